"""``monitor.alarm`` events: what crossed which threshold, with the figures that raised it.

An alarm's idempotency key names the model, version, kind and the last prediction record it
looked at, so running the check again on the same traffic appends nothing (cron-safe).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from supportops.events import log
from supportops.events.schemas import EventDraft
from supportops.governance import audit
from supportops.governance.context import Context
from supportops.monitor.event_types import ALARM, ALARM_TYPE, KINDS, Alarm
from supportops.storage import Database

__all__ = ["ALARM", "KINDS", "Alarm", "raise_alarms", "recent"]


def raise_alarms(db: Database, ctx: Context, alarms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Append the alarms not raised before (each audited); returns the new ones."""
    if not alarms:
        return []
    now = datetime.now(UTC)
    drafts = [EventDraft(ALARM, now, ALARM_TYPE.validate(a),
                         f"monitor:{a['model_name']}:{a['version']}:{a['kind']}:"
                         f"{a['last_record']}") for a in alarms]
    with db.begin(ctx.tenant_id) as conn:
        stored, _ = log.append(conn, ctx, drafts)
        for ev in stored:
            audit.record(conn, ctx, ALARM, details={"event_id": ev.id, **ev.payload})
    return [{"event_id": ev.id, "at": ev.occurred_at.isoformat(), **ev.payload} for ev in stored]


def recent(db: Database, ctx: Context, name: str | None = None, n: int = 20
           ) -> list[dict[str, Any]]:
    """The latest alarms (of model ``name``), oldest first."""
    events = log.tail(db, ctx, 1000, ALARM)
    out = [{"event_id": e.id, "at": e.occurred_at.isoformat(), **e.payload} for e in events
           if name is None or e.payload.get("model_name") == name]
    return out[-n:]
