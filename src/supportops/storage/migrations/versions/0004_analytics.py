"""Analytics: per-tenant SLA targets by priority.

Revision ID: 0004_analytics
Revises: 0003_ml

Frozen history: the table is written out here as it was at this revision (importing the
analytics room would pull DuckDB, NumPy and PyArrow into ``supportops init``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_analytics"
down_revision = "0003_ml"
branch_labels = None
depends_on = None

_md = sa.MetaData()
sa.Table("tenants", _md, sa.Column("id", sa.String(64), primary_key=True))  # referenced only
_SLA_TARGETS = sa.Table(
    "analytics_sla_targets", _md,
    sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("priority", sa.String(64), nullable=False),
    sa.Column("first_response_hours", sa.Float, nullable=True),
    sa.Column("resolution_hours", sa.Float, nullable=True),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "priority", name="pk_analytics_sla_targets"),
)


def upgrade() -> None:
    bind = op.get_bind()
    _SLA_TARGETS.create(bind)
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE analytics_sla_targets ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE analytics_sla_targets FORCE ROW LEVEL SECURITY")
        op.execute(
            "CREATE POLICY tenant_isolation ON analytics_sla_targets "
            "USING (tenant_id = current_setting('supportops.tenant', true)) "
            "WITH CHECK (tenant_id = current_setting('supportops.tenant', true))"
        )


def downgrade() -> None:
    _SLA_TARGETS.drop(op.get_bind())
