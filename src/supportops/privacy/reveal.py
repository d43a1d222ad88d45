"""Reading originals back: a privileged, audited action (roles ``agent``, ``privacy_officer``)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select

from supportops.errors import NotFound, PermissionDenied
from supportops.events import cipher
from supportops.governance import audit
from supportops.governance.context import Context, Role
from supportops.privacy import vault
from supportops.privacy.keys import Keyring
from supportops.privacy.sealed_subjects import customer_ref
from supportops.storage import Database
from supportops.storage.schema import events

REVEAL_ROLES: tuple[Role, ...] = ("agent", "privacy_officer")


def tokens_in(value: Any, found: set[str]) -> None:
    """Every token inside ``value`` (strings, dicts and lists, at any depth)."""
    if isinstance(value, str):
        found.update(m.group(0) for m in vault.TOKEN_RE.finditer(value))
    elif isinstance(value, dict):
        for item in value.values():
            tokens_in(item, found)
    elif isinstance(value, list):
        for item in value:
            tokens_in(item, found)


def substitute(value: Any, originals: dict[str, str]) -> Any:
    """``value`` with each token that has an original replaced by it."""
    if isinstance(value, str):
        return vault.TOKEN_RE.sub(lambda m: originals.get(m.group(0), m.group(0)), value)
    if isinstance(value, dict):
        return {k: substitute(v, originals) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, originals) for v in value]
    return value


def reveal_ticket(db: Database, ctx: Context, keyring: Keyring, ticket_id: str) -> dict[str, Any]:
    """The ticket's events with originals restored; every call (and refusal) is audited."""
    try:
        ctx.require(*REVEAL_ROLES, action="reveal personal data")
    except PermissionDenied:
        audit.record(db, ctx, "pii.reveal.denied", details={"ticket_id": ticket_id})
        raise
    with db.begin(ctx.tenant_id) as conn:
        rows = conn.execute(select(events).where(
            events.c.tenant_id == ctx.tenant_id, events.c.ticket_id == ticket_id)
            .order_by(events.c.seq)).all()
        if not rows:
            raise NotFound(f"Ticket {ticket_id!r} has no events in tenant {ctx.tenant_id!r}.")
        keyring.load(conn)
        payloads = [orjson.loads(row.payload) for row in rows]
        cipher.open_values(conn, ctx, payloads)
        owners = cipher.open_subjects(conn, ctx, [row.subject for row in rows])
        wanted: set[str] = {s for s in owners if s}
        for payload in payloads:
            tokens_in(payload, wanted)
        originals = vault.fetch(conn, keyring, wanted)
        revealed = len(originals)
        missing = len(wanted) - revealed
        out = [_event(row, p, s, originals)
               for row, p, s in zip(rows, payloads, owners, strict=True)]
        subjects = sorted({s for s in owners if s})
        audit.record(conn, ctx, "pii.reveal",
                     subject=customer_ref(conn, keyring, subjects[0]) if subjects else None,
                     details={"ticket_id": ticket_id, "revealed": revealed,
                              "unavailable": missing})
    return {"ticket_id": ticket_id, "revealed": revealed, "unavailable": missing,
            "events": out}


def _event(row: Any, payload: dict[str, Any], subject: str | None,
           originals: dict[str, str]) -> dict[str, Any]:
    return {"seq": row.seq, "id": row.id, "type": row.type,
            "occurred_at": row.occurred_at.isoformat(),
            "subject": originals.get(subject, subject) if subject else None,
            "redacted": row.redacted_at is not None,
            "payload": substitute(payload, originals)}
