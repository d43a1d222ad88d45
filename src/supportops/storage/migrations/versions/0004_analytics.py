"""Analytics: per-tenant SLA targets by priority.

Revision ID: 0004_analytics
Revises: 0001_foundation
"""

from __future__ import annotations

from supportops.analytics.sla import sla_targets_table
from supportops.storage import rls

revision = "0004_analytics"
down_revision = "0001_foundation"
branch_labels = ("analytics",)
depends_on = None


def upgrade() -> None:
    rls.create_tenant_tables([sla_targets_table])


def downgrade() -> None:
    rls.drop_tables([sla_targets_table])
