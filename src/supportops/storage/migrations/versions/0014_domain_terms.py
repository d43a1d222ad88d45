"""Privacy: a tenant's domain vocabulary (keyed hashes of its published articles' terms).

Revision ID: 0014_domain_terms
Revises: 0002_privacy

Frozen history: the table is written out here as it was at this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from supportops.storage.rls import enable_tenant_rls

revision = "0014_domain_terms"
down_revision = "0002_privacy"
branch_labels = ("domain_terms",)
depends_on = None


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
        enable_tenant_rls("domain_terms")


def downgrade() -> None:
    op.drop_table("domain_terms")
