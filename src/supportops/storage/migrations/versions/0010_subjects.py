"""Privacy subjects: links from a customer to the third parties its records name.

Revision ID: 0010_subjects
Revises: 0002_privacy
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from supportops.storage.rls import enable_tenant_rls

revision = "0010_subjects"
down_revision = "0002_privacy"
branch_labels = ("subjects",)
depends_on = None


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
        enable_tenant_rls("subject_links")


def downgrade() -> None:
    op.drop_index("ix_subject_links_linked", "subject_links")
    op.drop_table("subject_links")
