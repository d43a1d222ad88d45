"""ML: dataset snapshot catalogue and the per-event embedding cache.

Revision ID: 0003_ml
Revises: 0002_privacy

Frozen history: the tables are written out here as they were at this revision.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003_ml"
down_revision = "0002_privacy"
branch_labels = None
depends_on = None

_md = sa.MetaData()
sa.Table("tenants", _md, sa.Column("id", sa.String(64), primary_key=True))  # referenced only


def _tenant_table(name: str, *columns: Any) -> sa.Table:
    return sa.Table(name, _md, sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"),
                                         nullable=False), *columns)


_TABLES = [
    _tenant_table(
        "dataset_snapshots",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("log_position", sa.BigInteger, nullable=False),
        sa.Column("as_of", sa.DateTime(), nullable=True),
        sa.Column("filters", sa.Text, nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("exclusions", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("replaced_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_dataset_snapshots"),
    ),
    _tenant_table(
        "event_embeddings",
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("encoder", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=True),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "event_id", "encoder", name="pk_event_embeddings"),
    ),
]


def _tenant_rls(table: str) -> None:
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
