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
        wanted: set[str] = set()
        for row, payload in zip(rows, payloads, strict=True):
            tokens_in(payload, wanted)
            if row.subject:
                wanted.add(row.subject)
        originals = vault.fetch(conn, keyring, wanted)
        revealed = len(originals)
        missing = len(wanted) - revealed
        out = [_event(row, p, originals) for row, p in zip(rows, payloads, strict=True)]
        subjects = sorted({row.subject for row in rows if row.subject})
        audit.record(conn, ctx, "pii.reveal", subject=subjects[0] if subjects else None,
                     details={"ticket_id": ticket_id, "revealed": revealed,
                              "unavailable": missing})
    return {"ticket_id": ticket_id, "revealed": revealed, "unavailable": missing,
            "events": out}


def _event(row: Any, payload: dict[str, Any], originals: dict[str, str]) -> dict[str, Any]:
    return {"seq": row.seq, "id": row.id, "type": row.type,
            "occurred_at": row.occurred_at.isoformat(),
            "subject": originals.get(row.subject, row.subject) if row.subject else None,
            "redacted": row.redacted_at is not None,
            "payload": substitute(payload, originals)}
