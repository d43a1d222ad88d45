"""Assist: the blind search index, its state per tenant, and drafted answers.

Revision ID: 0011_assist
Revises: 0006_boundary

Frozen history: the tables are written out here as they were at this revision.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0011_assist"
down_revision = "0006_boundary"
branch_labels = None
depends_on = None

_md = sa.MetaData()
sa.Table("tenants", _md, sa.Column("id", sa.String(64), primary_key=True))  # referenced only


def _tenant_table(name: str, *columns: Any) -> sa.Table:
    return sa.Table(name, _md, sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"),
                                         nullable=False), *columns)


_TABLES = [
    _tenant_table(
        "assist_documents",
        sa.Column("doc_id", sa.String(240), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("source_id", sa.String(200), nullable=False),
        sa.Column("question_event", sa.String(36), nullable=False),
        sa.Column("answer_event", sa.String(36), nullable=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("subject", sa.String(200), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("intent", sa.String(100), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("length", sa.Integer, nullable=False),
        sa.Column("terms", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "doc_id", name="pk_assist_documents"),
        sa.Index("ix_assist_documents_subject", "tenant_id", "subject"),
        sa.Index("ix_assist_documents_seq", "tenant_id", "seq"),
    ),
    _tenant_table(
        "assist_state",
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
        sa.Column("encoder", sa.String(200), nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_assist_state"),
    ),
    _tenant_table(
        "assist_answers",
        sa.Column("answer_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ticket_id", sa.String(200), nullable=True),
        sa.Column("citations", sa.Text, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("index_version", sa.String(64), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("abstained", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "answer_id", name="pk_assist_answers"),
    ),
]


def _tenant_rls(table: str) -> None:
    """Rows of ``table`` are visible and writable only inside their tenant's transaction."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING (tenant_id = current_setting('supportops.tenant', true)) "
        f"WITH CHECK (tenant_id = current_setting('supportops.tenant', true))"
    )


def upgrade() -> None:
    bind = op.get_bind()
    for table in _TABLES:
        table.create(bind)
    if bind.dialect.name == "postgresql":
        for table in _TABLES:
            _tenant_rls(table.name)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(_TABLES):
        table.drop(bind)
