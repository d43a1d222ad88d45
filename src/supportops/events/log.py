"""The append-only event log: idempotent, tenant-sequenced, hash-chained appends and reads.

Appends deduplicate on ``(tenant, idempotency_key)``, hand new drafts to the protector seam
(privacy pseudonymises there, inside the same transaction), take a block of per-tenant
sequence numbers and insert the batch. Each event stores ``payload_hash`` (SHA-256 of its
payload bytes as stored, ciphertext included) and ``hash``, which chains the previous event's
hash with every stored field, so a deleted, moved or rewritten event breaks the chain
(:func:`verify_log`). The one permitted change is a redaction into :func:`tombstone`, once,
keeping both hashes; the database refuses anything else (migration ``0005_integrity``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import orjson
from sqlalchemy import Connection, Row, func, select, update

from supportops.events import cipher
from supportops.events.schemas import Event, EventDraft
from supportops.governance.context import Context
from supportops.storage import Database
from supportops.storage.bulk import bulk_insert
from supportops.storage.schema import events, tenants

_KEY_CHUNK = 2000
GENESIS = "0" * 64
RedactionReason = Literal["erasure", "retention"]
REDACTION_REASONS: tuple[RedactionReason, ...] = ("erasure", "retention")


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


def tombstone(reason: RedactionReason) -> str:
    """The canonical redacted payload, byte for byte: the only value a redaction may store
    (the database checks it). It holds no content, so verifying needs no subject key."""
    if reason not in REDACTION_REASONS:
        raise ValueError(f"A redaction reason is one of {REDACTION_REASONS}; got {reason!r}.")
    return f'{{"redacted":"{reason}"}}'


TOMBSTONES: frozenset[str] = frozenset(tombstone(r) for r in REDACTION_REASONS)


def payload_hash(stored: str | bytes) -> str:
    """SHA-256 of the payload exactly as stored (ciphertext when encrypted at rest)."""
    return hashlib.sha256(stored.encode() if isinstance(stored, str) else stored).hexdigest()


def _utc_text(value: datetime) -> str:
    v = value.astimezone(UTC) if value.tzinfo else value
    return v.strftime("%Y-%m-%dT%H:%M:%S.%f")


def chain_hash(prev: str, tenant_id: str, seq: int, ev_id: str, event_type: str,
               ticket_id: str | None, subject: str | None, occurred_at: datetime,
               idempotency_key: str, content: str) -> str:
    """The event's link: previous hash plus every stored field (``content`` is its
    ``payload_hash``, which redaction keeps)."""
    fields = [prev, tenant_id, seq, ev_id, event_type, ticket_id, subject,
              _utc_text(occurred_at), idempotency_key, content]
    return hashlib.sha256(orjson.dumps(fields)).hexdigest()


def _stored_payload(draft: EventDraft) -> str:
    """The payload as it will be stored (the seam where encryption at rest plugs in)."""
    return orjson.dumps(draft.payload, option=orjson.OPT_SORT_KEYS).decode()


def _head_hash(conn: Connection, ctx: Context, seq: int) -> str:
    """Hash of event ``seq`` (genesis before the first). The caller holds the tenant row's
    lock (the ``last_seq`` update), so the previous writer has committed."""
    if seq < 1:
        return GENESIS
    found = conn.execute(select(events.c.hash).where(
        events.c.tenant_id == ctx.tenant_id, events.c.seq == seq)).scalar()
    return str(found) if found is not None else GENESIS


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
    subjects = cipher.seal_subjects(conn, ctx, [d.subject for d in fresh])
    last = conn.execute(
        update(tenants)
        .where(tenants.c.id == ctx.tenant_id)
        .values(last_seq=tenants.c.last_seq + len(fresh))
        .returning(tenants.c.last_seq)
    ).scalar_one()
    first = last - len(fresh) + 1
    prev = _head_hash(conn, ctx, first - 1)
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    stored: list[Event] = []
    for (seq, d), subject in zip(enumerate(fresh, start=first), subjects, strict=True):
        ev_id = d.id or event_id(ctx.tenant_id, d.idempotency_key)
        body = _stored_payload(d)
        content = payload_hash(body)
        prev = chain_hash(prev, ctx.tenant_id, seq, ev_id, d.type, d.ticket_id, subject,
                          d.occurred_at, d.idempotency_key, content)
        rows.append({
            "tenant_id": ctx.tenant_id, "seq": seq, "id": ev_id, "subject": subject,
            "ticket_id": d.ticket_id, "type": d.type, "occurred_at": d.occurred_at,
            "recorded_at": now, "payload": body, "idempotency_key": d.idempotency_key,
            "payload_hash": content, "hash": prev,
        })
        stored.append(Event(ctx.tenant_id, seq, ev_id, d.type, d.occurred_at, now, d.payload,
                            d.idempotency_key, prev, d.ticket_id, d.subject))
    bulk_insert(conn, events, rows)
    return stored, duplicates


def _to_events(conn: Connection, ctx: Context, rows: Sequence[Row[Any]],
               sealed: bool = False) -> list[Event]:
    """Events of a batch of rows, their payloads decrypted in one go (unless ``sealed``);
    subjects are always opened (projections copy the token, not its sealed form)."""
    payloads = [orjson.loads(row.payload) for row in rows]
    opener = cipher.for_connection(conn, ctx) if rows else None  # one keyring per batch
    if not sealed and opener is not None:
        opener.open(conn, ctx, payloads)
    subjects = cipher.open_subjects(conn, ctx, [row.subject for row in rows], opener)
    return [_to_event(row, p, s) for row, p, s in zip(rows, payloads, subjects, strict=True)]


def _to_event(row: Row[Any], payload: dict[str, Any], subject: str | None) -> Event:
    """A tombstone reads without its ticket link (it stays stored, under the hash), so that
    replays and snapshots never fold a redacted event into a ticket."""
    redacted = row.redacted_at is not None
    return Event(
        tenant_id=row.tenant_id, seq=row.seq, id=row.id, type=row.type,
        occurred_at=row.occurred_at, recorded_at=row.recorded_at,
        payload=payload, idempotency_key=row.idempotency_key, hash=row.hash,
        ticket_id=None if redacted else row.ticket_id, subject=subject,
        redacted_at=row.redacted_at,
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


@dataclass
class LogCheck:
    """What :func:`verify_log` found: the head it reached, the redacted events, the first
    problem (``None`` when the whole chain holds) and the hashes at the asked positions."""

    checked: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    redacted: list[int] = field(default_factory=list)
    bad_seq: int | None = None
    problem: str | None = None
    hashes: dict[int, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def fail(self, seq: int, problem: str) -> LogCheck:
        self.bad_seq, self.problem = seq, problem
        return self


_CHECKED = (events.c.seq, events.c.id, events.c.type, events.c.ticket_id, events.c.subject,
            events.c.occurred_at, events.c.idempotency_key, events.c.payload,
            events.c.payload_hash, events.c.hash, events.c.redacted_at)


def verify_log(db: Database, ctx: Context, positions: frozenset[int] = frozenset(),
               batch: int = 20000) -> LogCheck:
    """Walk the tenant's chain from genesis: sequence gaps, content hashes, tombstones and
    links, then the tenant's sequence counter. Needs no key (tombstones hold no content)."""
    check = LogCheck()
    last = _counter(db, ctx)  # read first: events appended during the walk are not "missing"
    while True:
        with db.begin(ctx.tenant_id) as conn:
            rows = conn.execute(select(*_CHECKED).where(
                events.c.tenant_id == ctx.tenant_id, events.c.seq > check.head_seq)
                .order_by(events.c.seq).limit(batch)).all()
        for row in rows:
            problem = _check_event(ctx.tenant_id, row, check.head_seq + 1, check.head_hash)
            if problem:
                return check.fail(*problem)
            if row.redacted_at is not None:
                check.redacted.append(row.seq)
            if row.seq in positions:
                check.hashes[row.seq] = row.hash
            check.checked, check.head_seq, check.head_hash = row.seq, row.seq, row.hash
        if len(rows) < batch:
            break
    if last > check.head_seq:
        return check.fail(check.head_seq + 1, f"events #{check.head_seq + 1} to #{last} are "
                          f"missing (the log was truncated; the tenant's sequence is at #{last})")
    return check


def _check_event(tenant_id: str, row: Any, expected: int, prev: str) -> tuple[int, str] | None:
    if row.seq != expected:
        return expected, f"event #{expected} is missing (next present is #{row.seq})"
    if row.redacted_at is not None and row.payload not in TOMBSTONES:
        return row.seq, (f"event #{row.seq} is marked redacted but its payload is not the "
                         "canonical tombstone (a forged redaction)")
    if row.redacted_at is None and payload_hash(row.payload) != row.payload_hash:
        return row.seq, f"event #{row.seq} was rewritten (its payload does not match its hash)"
    link = chain_hash(prev, tenant_id, row.seq, row.id, row.type, row.ticket_id, row.subject,
                      row.occurred_at, row.idempotency_key, row.payload_hash or "")
    if link != row.hash:
        return row.seq, (f"event #{row.seq} was changed or does not follow #{row.seq - 1} "
                         "(its hash does not cover its ticket, subject, type, time, key or "
                         "content)")
    return None


def _counter(db: Database, ctx: Context) -> int:
    """The tenant's sequence counter: the last seq handed out."""
    with db.begin(ctx.tenant_id) as conn:
        last = conn.execute(select(tenants.c.last_seq).where(
            tenants.c.id == ctx.tenant_id)).scalar()
    return int(last or 0)
