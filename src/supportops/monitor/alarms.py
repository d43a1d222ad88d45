"""``monitor.alarm`` events: what crossed which threshold, with the figures that raised it.

An alarm's idempotency key names the model, version, kind and the last prediction record it
looked at, so running the check again on the same traffic appends nothing (cron-safe).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from supportops.events import log
from supportops.events.classification import LABEL, Code, register_classes
from supportops.events.schemas import EventDraft, register_event_type, validate_payload
from supportops.governance import audit
from supportops.governance.context import Context
from supportops.storage import Database

ALARM = "monitor.alarm"
KINDS = ("input_drift", "label_drift", "accuracy_drop")


class Alarm(BaseModel):
    """Payload of ``monitor.alarm``."""

    model_config = ConfigDict(extra="forbid")
    model_name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    kind: Literal["input_drift", "label_drift", "accuracy_drop"]
    score: float
    threshold: float
    n: int = Field(ge=0)
    last_record: str = Field(min_length=1)


register_event_type(ALARM, Alarm)
register_classes(ALARM, {"model_name": LABEL, "version": LABEL,
                         "kind": Code(vocabulary=frozenset(KINDS)), "last_record": LABEL})


def raise_alarms(db: Database, ctx: Context, alarms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Append the alarms not raised before (each audited); returns the new ones."""
    if not alarms:
        return []
    now = datetime.now(UTC)
    drafts = [EventDraft(ALARM, now, validate_payload(ALARM, a),
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
