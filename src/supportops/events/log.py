"""The append-only event log: idempotent, tenant-sequenced appends and reads.

Appends deduplicate on ``(tenant, idempotency_key)``, hand new drafts to the protector seam
(privacy pseudonymises there, inside the same transaction), take a block of per-tenant
sequence numbers and insert the batch. Nothing here updates or deletes an event; the database
refuses it too (see ``storage/rls.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from sqlalchemy import Connection, Row, func, select, update

from supportops.events import cipher
from supportops.events.schemas import Event, EventDraft
from supportops.governance.context import Context
from supportops.storage import Database
from supportops.storage.bulk import bulk_insert
from supportops.storage.schema import events, tenants

_KEY_CHUNK = 2000


class Protector(Protocol):
    """Rewrites drafts before they are stored (pseudonymisation); runs in the append's
    transaction so that vault entries and events commit together."""

    def protect(self, conn: Connection, ctx: Context, drafts: list[EventDraft]) -> None: ...

    def key_ids(self, conn: Connection, ctx: Context, drafts: Sequence[EventDraft]) -> None:
        """Replace idempotency keys (and given ids) by HMACs under the tenant key."""


def event_id(tenant_id: str, idempotency_key: str) -> str:
    """A stable id: the same record ingested twice would get the same id."""
    h = hashlib.sha256(f"{tenant_id}\x1f{idempotency_key}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def content_hash(tenant_id: str, seq: int, ev_id: str, draft: EventDraft, payload: bytes) -> str:
    head = (
        f"{tenant_id}\x1f{seq}\x1f{ev_id}\x1f{draft.type}\x1f{draft.ticket_id or ''}\x1f"
        f"{draft.subject or ''}\x1f{draft.occurred_at.isoformat()}\x1f"
    ).encode()
    return hashlib.sha256(head + payload).hexdigest()


def existing_keys(conn: Connection, ctx: Context, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), _KEY_CHUNK):
        chunk = keys[i : i + _KEY_CHUNK]
        found.update(
            conn.execute(
                select(events.c.idempotency_key).where(
                    events.c.tenant_id == ctx.tenant_id, events.c.idempotency_key.in_(chunk)
                )
            ).scalars()
        )
    return found


def append(
    conn: Connection,
    ctx: Context,
    drafts: Sequence[EventDraft],
    protector: Protector | None = None,
) -> tuple[list[Event], int]:
    """Append new drafts; returns the stored events (payloads as stored: sealed) and how
    many were duplicates."""
    if protector is not None:
        protector.key_ids(conn, ctx, drafts)
    seen = existing_keys(conn, ctx, [d.idempotency_key for d in drafts])
    fresh: list[EventDraft] = []
    for d in drafts:
        if d.idempotency_key not in seen:
            seen.add(d.idempotency_key)
            fresh.append(d)
    duplicates = len(drafts) - len(fresh)
    if not fresh:
        return [], duplicates
    if protector is not None:
        protector.protect(conn, ctx, fresh)
    cipher.seal(conn, ctx, fresh)  # content encrypted before rows (and hashes) are built
    last = conn.execute(
        update(tenants)
        .where(tenants.c.id == ctx.tenant_id)
        .values(last_seq=tenants.c.last_seq + len(fresh))
        .returning(tenants.c.last_seq)
    ).scalar_one()
    first = last - len(fresh) + 1
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    stored: list[Event] = []
    for seq, d in enumerate(fresh, start=first):
        ev_id = d.id or event_id(ctx.tenant_id, d.idempotency_key)
        body = orjson.dumps(d.payload, option=orjson.OPT_SORT_KEYS)
        digest = content_hash(ctx.tenant_id, seq, ev_id, d, body)
        rows.append({
            "tenant_id": ctx.tenant_id, "seq": seq, "id": ev_id, "subject": d.subject,
            "ticket_id": d.ticket_id, "type": d.type, "occurred_at": d.occurred_at,
            "recorded_at": now, "payload": body.decode(), "idempotency_key": d.idempotency_key,
            "hash": digest,
        })
        stored.append(Event(ctx.tenant_id, seq, ev_id, d.type, d.occurred_at, now, d.payload,
                            d.idempotency_key, digest, d.ticket_id, d.subject))
    bulk_insert(conn, events, rows)
    return stored, duplicates


def _to_events(conn: Connection, ctx: Context, rows: Sequence[Row[Any]],
               sealed: bool = False) -> list[Event]:
    """Events of a batch of rows, their payloads decrypted in one go (unless ``sealed``)."""
    payloads = [orjson.loads(row.payload) for row in rows]
    if not sealed:
        cipher.open_values(conn, ctx, payloads)
    return [_to_event(row, p) for row, p in zip(rows, payloads, strict=True)]


def _to_event(row: Row[Any], payload: dict[str, Any]) -> Event:
    return Event(
        tenant_id=row.tenant_id, seq=row.seq, id=row.id, type=row.type,
        occurred_at=row.occurred_at, recorded_at=row.recorded_at,
        payload=payload, idempotency_key=row.idempotency_key, hash=row.hash,
        ticket_id=row.ticket_id, subject=row.subject, redacted_at=row.redacted_at,
    )


def iter_events(
    db: Database, ctx: Context, after_seq: int = 0, batch: int = 5000,
    ticket_id: str | None = None, sealed: bool = False,
) -> Iterator[Event]:
    """Every event of the tenant in sequence order, read in bounded batches (payloads
    decrypted; ``sealed`` keeps them as stored, for projections that copy them)."""
    position = after_seq
    while True:
        query = select(events).where(events.c.tenant_id == ctx.tenant_id,
                                     events.c.seq > position)
        if ticket_id is not None:
            query = query.where(events.c.ticket_id == ticket_id)
        with db.begin(ctx.tenant_id) as conn:
            rows = conn.execute(query.order_by(events.c.seq).limit(batch)).all()
            stored = _to_events(conn, ctx, rows, sealed)
        if not rows:
            return
        yield from stored
        position = rows[-1].seq


def tail(db: Database, ctx: Context, n: int = 20, event_type: str | None = None) -> list[Event]:
    """The last ``n`` events, oldest first."""
    query = select(events).where(events.c.tenant_id == ctx.tenant_id)
    if event_type:
        query = query.where(events.c.type == event_type)
    with db.begin(ctx.tenant_id) as conn:
        rows = conn.execute(query.order_by(events.c.seq.desc()).limit(n)).all()
        return _to_events(conn, ctx, list(reversed(rows)))


def count(db: Database, ctx: Context) -> int:
    with db.begin(ctx.tenant_id) as conn:
        return int(conn.execute(
            select(func.count()).select_from(events).where(events.c.tenant_id == ctx.tenant_id)
        ).scalar_one())
