"""Opt-out of (and back into) training, recorded as events so snapshots can ask "as of when".

``opted_out_subjects(db, ctx, as_of)`` folds the log's opt-out and opt-in events up to a log
position (``int``) or a time (``datetime``); dataset snapshots exclude what it returns.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from supportops.errors import ValidationFailed
from supportops.events import cipher, log
from supportops.events.catalogue import EventType
from supportops.events.schemas import EventDraft
from supportops.governance import audit
from supportops.governance.context import Context, Role
from supportops.privacy.protector import Pseudonymiser
from supportops.privacy.sealed_subjects import customer_ref
from supportops.storage import Database
from supportops.storage.schema import events

OPTED_OUT = "privacy.opted_out"
OPTED_IN = "privacy.opted_in"
OPT_ROLES: tuple[Role, ...] = ("admin", "privacy_officer", "agent")


class OptChange(BaseModel):
    """Payload of an opt-out / opt-in event."""

    model_config = ConfigDict(extra="forbid")
    scope: Literal["training"] = "training"
    reason: str | None = None


#: The privacy room's event types (the composition root joins them into the catalogue); no
#: string is declared, so all are free text: scanned and sealed.
EVENT_TYPES: tuple[EventType, ...] = (EventType(OPTED_OUT, OptChange),
                                      EventType(OPTED_IN, OptChange))


def set_opt_out(db: Database, ctx: Context, protector: Pseudonymiser, subject: str,
                opted_out: bool, reason: str | None = None) -> dict[str, object]:
    """Append an opt-out (or opt-in) event for ``subject`` (original id) and audit it."""
    action = "opt out" if opted_out else "opt in"
    ctx.require(*OPT_ROLES, action=f"{action} a data subject")
    kind = OPTED_OUT if opted_out else OPTED_IN
    now = datetime.now(UTC)
    payload = EVENT_TYPES[0].validate({"reason": reason} if reason else {})  # one payload
    draft = EventDraft(kind, now, payload, f"privacy:{kind}:{uuid.uuid4()}", subject=subject)
    with db.begin(ctx.tenant_id) as conn:
        stored, _ = log.append(conn, ctx, [draft], protector)
        token = stored[0].subject
        ref = customer_ref(conn, protector.keyring, token) if token else None
        audit.record(conn, ctx, kind, subject=ref,
                     details={"event_id": stored[0].id, "seq": stored[0].seq,
                              "reason": stored[0].payload.get("reason")})
    return {"subject": token, "opted_out": opted_out, "seq": stored[0].seq,
            "at": now.isoformat()}


def opted_out_subjects(db: Database, ctx: Context,
                       as_of: datetime | int | None = None) -> set[str]:
    """Subject tokens opted out of training at ``as_of`` (log position or time; default now).

    An erased subject's opt-out survives as its keyed reference (its token is gone with its
    key: the tombstones' sealed subject names it by reference only)."""
    query = select(events.c.subject, events.c.type).where(
        events.c.tenant_id == ctx.tenant_id, events.c.type.in_((OPTED_OUT, OPTED_IN)))
    if isinstance(as_of, datetime):
        query = query.where(events.c.occurred_at <= as_of)
    elif isinstance(as_of, int):
        if not 0 <= as_of < 2**63:
            raise ValidationFailed(f"A log position must be in [0, 2**63). Got {as_of}.",
                                   field="as_of")
        query = query.where(events.c.seq <= as_of)
    with db.begin(ctx.tenant_id) as conn:
        rows = conn.execute(query.order_by(events.c.seq)).all()
        subjects = cipher.open_subjects(conn, ctx, [row.subject for row in rows])
    state: dict[str, bool] = {}
    for subject, (stored, kind) in zip(subjects, rows, strict=True):
        name = subject or _reference(stored)
        if name:
            state[name] = kind == OPTED_OUT
    return {s for s, out in state.items() if out}


def _reference(stored: str | None) -> str | None:
    """The keyed reference inside a sealed subject whose key is destroyed."""
    if stored is None or not stored.startswith(cipher.MARK):
        return stored
    return stored[len(cipher.MARK) :].split(":", 1)[0]
