"""The server: API keys with scopes and an expiry; outgoing webhooks and their deliveries.

Revision ID: 0012_server
Revises: 0001_foundation

Frozen history: the columns and tables are written out here as they were at this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from supportops.storage.rls import enable_tenant_rls

revision = "0012_server"
down_revision = "0001_foundation"
branch_labels = ("server",)
depends_on = None


def _tenant_id() -> sa.Column[str]:
    return sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("principals") as batch:
        batch.add_column(sa.Column("scopes", sa.Text, nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime, nullable=True))
    op.create_table(
        "webhooks",
        _tenant_id(),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("event_types", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("disabled_at", sa.DateTime, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_webhooks"),
    )
    op.create_table(
        "webhook_deliveries",
        _tenant_id(),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("webhook_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=True),
        sa.Column("delivered_at", sa.DateTime, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_webhook_deliveries"),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries",
                    ["tenant_id", "status", "next_attempt_at"])
    if op.get_bind().dialect.name == "postgresql":
        enable_tenant_rls("webhooks")
        enable_tenant_rls("webhook_deliveries")


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_due", "webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
    with op.batch_alter_table("principals") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("scopes")
