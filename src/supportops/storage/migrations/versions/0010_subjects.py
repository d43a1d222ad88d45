"""Privacy subjects: links from a customer to the third parties its records name.

Revision ID: 0010_subjects
Revises: 0004_analytics

Frozen history: the table and its policy are written out here as they were at this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_subjects"
down_revision = "0004_analytics"
branch_labels = None
depends_on = None


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
    op.create_table(
        "subject_links",
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("linked", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "subject", "linked", name="pk_subject_links"),
    )
    op.create_index("ix_subject_links_linked", "subject_links", ["tenant_id", "linked"])
    if op.get_bind().dialect.name == "postgresql":
        _tenant_rls("subject_links")


def downgrade() -> None:
    op.drop_index("ix_subject_links_linked", "subject_links")
    op.drop_table("subject_links")
