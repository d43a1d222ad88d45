"""Monitor: reference statistics per model version, prediction records, thresholds.

Revision ID: 0013_monitor
Revises: 0012_server

Frozen history: the tables are written out here as they were at this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_monitor"
down_revision = "0012_server"
branch_labels = None
depends_on = None


def _tenant_id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False)


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
        "model_references", _tenant_id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("stats", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", "version", name="pk_model_references"),
    )
    op.create_table(
        "prediction_records", _tenant_id(),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("alias", sa.String(16), nullable=False),
        sa.Column("ticket_id", sa.String(200), nullable=True),
        sa.Column("subject", sa.String(200), nullable=True),
        sa.Column("embedding_id", sa.String(36), nullable=True),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("abstained", sa.Boolean, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_prediction_records"),
    )
    op.create_index("ix_prediction_records_model", "prediction_records",
                    ["tenant_id", "name", "version", "created_at"])
    op.create_table(
        "monitor_thresholds", _tenant_id(),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "key", name="pk_monitor_thresholds"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in ("model_references", "prediction_records", "monitor_thresholds"):
            _tenant_rls(table)


def downgrade() -> None:
    op.drop_index("ix_prediction_records_model", "prediction_records")
    for table in ("monitor_thresholds", "prediction_records", "model_references"):
        op.drop_table(table)
