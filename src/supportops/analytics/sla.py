"""SLA targets per priority, configured by each tenant and kept in its own table.

Targets are hours from opening to first response and to resolution. A table (not the
workspace config) because targets are tenant data: they follow the tenant's row-level
security and travel with its database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, Float, PrimaryKeyConstraint, String, delete, insert, select

from supportops.errors import ValidationFailed
from supportops.governance.context import Context
from supportops.storage import Database
from supportops.storage.schema import UTCDateTime, tenant_table

TABLE = "analytics_sla_targets"

sla_targets_table = tenant_table(
    TABLE,
    Column("priority", String(64), nullable=False),
    Column("first_response_hours", Float, nullable=True),
    Column("resolution_hours", Float, nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", "priority", name="pk_analytics_sla_targets"),
)


@dataclass(frozen=True)
class SlaTarget:
    """Hours allowed for one priority; ``None`` means no target for that measure."""

    priority: str
    first_response_hours: float | None = None
    resolution_hours: float | None = None


def _check_hours(name: str, value: float | None) -> None:
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise ValidationFailed(
            f"The '{name}' of an SLA target must be a positive number of hours. "
            f"Got {value!r} instead.")


def set_target(db: Database, ctx: Context, target: SlaTarget) -> SlaTarget:
    """Create or replace the target of one priority (admins only)."""
    ctx.require("admin", action="set SLA targets")
    if not target.priority.strip():
        raise ValidationFailed("An SLA target needs a priority name, e.g. '1 - Critical'.")
    _check_hours("first_response_hours", target.first_response_hours)
    _check_hours("resolution_hours", target.resolution_hours)
    if target.first_response_hours is None and target.resolution_hours is None:
        raise ValidationFailed(
            f"The SLA target of priority {target.priority!r} names no hours; give "
            "first_response_hours, resolution_hours or both.")
    table = sla_targets_table
    with db.begin(ctx.tenant_id) as conn:
        conn.execute(delete(table).where(table.c.tenant_id == ctx.tenant_id,
                                         table.c.priority == target.priority))
        conn.execute(insert(table).values(
            tenant_id=ctx.tenant_id, priority=target.priority,
            first_response_hours=target.first_response_hours,
            resolution_hours=target.resolution_hours, updated_at=datetime.now(UTC)))
    return target


def remove_target(db: Database, ctx: Context, priority: str) -> bool:
    """Drop the target of one priority; returns whether there was one."""
    ctx.require("admin", action="remove SLA targets")
    table = sla_targets_table
    with db.begin(ctx.tenant_id) as conn:
        result = conn.execute(delete(table).where(table.c.tenant_id == ctx.tenant_id,
                                                  table.c.priority == priority))
    return bool(result.rowcount)


def targets(db: Database, ctx: Context) -> list[SlaTarget]:
    """The tenant's targets, by priority name."""
    table = sla_targets_table
    with db.begin(ctx.tenant_id) as conn:
        rows = conn.execute(select(table.c.priority, table.c.first_response_hours,
                                   table.c.resolution_hours)
                            .where(table.c.tenant_id == ctx.tenant_id)
                            .order_by(table.c.priority)).all()
    return [SlaTarget(r.priority, r.first_response_hours, r.resolution_hours) for r in rows]
