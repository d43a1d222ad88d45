"""Analytics: per-tenant SLA targets by priority.

Revision ID: 0004_analytics
Revises: 0001_foundation
"""

from __future__ import annotations

from alembic import op

from supportops.analytics.sla import sla_targets_table
from supportops.storage import rls

revision = "0004_analytics"
down_revision = "0001_foundation"
branch_labels = ("analytics",)
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    sla_targets_table.create(bind)
    if bind.dialect.name == "postgresql":
        rls.enable_tenant_rls(sla_targets_table.name)


def downgrade() -> None:
    sla_targets_table.drop(op.get_bind())
