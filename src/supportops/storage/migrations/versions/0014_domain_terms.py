"""Privacy: a tenant's domain vocabulary (keyed hashes of its published articles' terms).

Revision ID: 0014_domain_terms
Revises: 0013_monitor

Frozen history: the table is written out here as it was at this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_domain_terms"
down_revision = "0013_monitor"
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
        "domain_terms",
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("article_id", sa.String(200), nullable=False),
        sa.Column("term", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "article_id", "term", name="pk_domain_terms"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _tenant_rls("domain_terms")


def downgrade() -> None:
    op.drop_table("domain_terms")
