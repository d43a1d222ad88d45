"""Foundation: tenants, principals, the event log and the ticket projection.

Revision ID: 0001_foundation
Revises:
"""

from __future__ import annotations

from alembic import context, op

from supportops.storage import rls
from supportops.storage.schema import (
    events,
    principals,
    projection_positions,
    tenants,
    tickets,
)

revision = "0001_foundation"
down_revision = None
branch_labels = ("foundation",)
depends_on = None

_TABLES = [tenants, principals, events, tickets, projection_positions]


def upgrade() -> None:
    bind = op.get_bind()
    for table in _TABLES:
        table.create(bind)
    rls.append_only_events(bind.dialect.name)
    if bind.dialect.name == "postgresql":
        role = context.config.attributes.get("app_role")
        if role:
            rls.ensure_app_role(role)
        for name in ("principals", "events", "tickets", "projection_positions"):
            rls.enable_tenant_rls(name)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(_TABLES):
        table.drop(bind)
