"""The audit chain: append-only entries, each hashing its content and the previous hash.

    record(conn_or_db, ctx, "pii.reveal", subject=token, details={"ticket_id": "T1"})
    verify(db, ctx)  # -> Verification(ok=False, bad_seq=7, problem="content was edited")

Every privileged action calls :func:`record` inside the transaction that does the work, so
an action and its entry commit together. Chains are per tenant. A head row keeps the newest
(seq, hash), so deleting the last entries is caught as well as edits, gaps and reorders.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select, text

from supportops.governance.context import Context, Role
from supportops.governance.tables import audit_heads, audit_log
from supportops.storage import Database
from supportops.storage.schema import principals

GENESIS = "0" * 64
READ_ROLES: tuple[Role, ...] = ("admin", "privacy_officer")


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    subject: str | None
    details: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS
    hash: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at.isoformat(), "actor": self.actor,
                "role": self.role, "action": self.action, "subject": self.subject,
                "details": self.details, "hash": self.hash}


@dataclass(frozen=True)
class Verification:
    """Result of :func:`verify`; ``bad_seq`` names the first bad entry."""

    ok: bool
    checked: int
    bad_seq: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "bad_seq": self.bad_seq,
                "problem": self.problem}


def entry_hash(tenant_id: str, entry: AuditEntry, details_json: str) -> str:
    """SHA-256 over the canonical content and the previous entry's hash."""
    content = orjson.dumps(
        [tenant_id, entry.seq, entry.at.isoformat(), entry.actor, entry.role, entry.action,
         entry.subject, details_json, entry.prev_hash]
    )
    return hashlib.sha256(content).hexdigest()


def _canonical(details: dict[str, Any] | None) -> str:
    return orjson.dumps(details or {}, option=orjson.OPT_SORT_KEYS, default=str).decode()


@contextmanager
def _connection(target: Connection | Database, ctx: Context) -> Iterator[Connection]:
    if isinstance(target, Connection):
        yield target
        return
    with target.begin(ctx.tenant_id) as conn:
        yield conn


def record(
    target: Connection | Database,
    ctx: Context,
    action: str,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry (in ``target``'s transaction if it is a connection)."""
    with _connection(target, ctx) as conn:
        return _append(conn, ctx, action, subject, _canonical(details))


def _append(conn: Connection, ctx: Context, action: str, subject: str | None,
            details_json: str) -> AuditEntry:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                     {"k": f"audit:{ctx.tenant_id}"})
    head = conn.execute(select(audit_heads.c.seq, audit_heads.c.hash)
                        .where(audit_heads.c.tenant_id == ctx.tenant_id)).first()
    seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS)
    now = datetime.now(UTC)
    draft = AuditEntry(seq, now, ctx.principal_id, ctx.role, action, subject,
                       orjson.loads(details_json), prev)
    digest = entry_hash(ctx.tenant_id, draft, details_json)
    conn.execute(insert(audit_log).values(
        tenant_id=ctx.tenant_id, seq=seq, at=now, actor=ctx.principal_id, role=ctx.role,
        action=action, subject=subject, details=details_json, prev_hash=prev, hash=digest))
    conn.execute(delete(audit_heads).where(audit_heads.c.tenant_id == ctx.tenant_id))
    conn.execute(insert(audit_heads).values(tenant_id=ctx.tenant_id, seq=seq, hash=digest))
    return AuditEntry(seq, now, ctx.principal_id, ctx.role, action, subject,
                      draft.details, prev, digest)


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(row.seq, row.at, row.actor, row.role, row.action, row.subject,
                      orjson.loads(row.details), row.prev_hash, row.hash)


def _actor_ids(conn: Connection, ctx: Context, actor: str) -> list[str]:
    """An actor filter matches a principal id or a principal name."""
    ids = conn.execute(select(principals.c.id).where(
        principals.c.tenant_id == ctx.tenant_id, principals.c.name == actor)).scalars().all()
    return [actor, *ids]


def entries(
    db: Database,
    ctx: Context,
    *,
    actor: str | None = None,
    action: str | None = None,
    subject: str | Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 1000,
) -> list[AuditEntry]:
    """Entries oldest first, filtered; ``action`` ending in ``.*`` matches a prefix."""
    ctx.require(*READ_ROLES, action="read the audit log")
    query = select(audit_log).where(audit_log.c.tenant_id == ctx.tenant_id)
    with db.begin(ctx.tenant_id) as conn:
        if actor:
            query = query.where(audit_log.c.actor.in_(_actor_ids(conn, ctx, actor)))
        if action:
            query = query.where(audit_log.c.action.startswith(action[:-1]) if
                                action.endswith("*") else audit_log.c.action == action)
        if subject:
            wanted = [subject] if isinstance(subject, str) else list(subject)
            query = query.where(audit_log.c.subject.in_(wanted))
        if since:
            query = query.where(audit_log.c.at >= since)
        if until:
            query = query.where(audit_log.c.at <= until)
        rows = conn.execute(query.order_by(audit_log.c.seq).limit(limit)).all()
    return [_entry(r) for r in rows]


def verify(db: Database, ctx: Context) -> Verification:
    """Walk the chain; the first entry that was edited, removed or moved is named."""
    ctx.require(*READ_ROLES, action="verify the audit log")
    with db.begin(ctx.tenant_id) as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.tenant_id == ctx.tenant_id)
                            .order_by(audit_log.c.seq)).all()
        head = conn.execute(select(audit_heads.c.seq, audit_heads.c.hash)
                            .where(audit_heads.c.tenant_id == ctx.tenant_id)).first()
    prev, expected = GENESIS, 1
    for row in rows:
        problem = _check(ctx.tenant_id, row, prev, expected)
        if problem:
            return Verification(False, expected - 1, problem[0], problem[1])
        prev, expected = row.hash, expected + 1
    last = expected - 1
    if head is not None and (head.seq != last or head.hash != prev):
        return Verification(False, last, head.seq,
                            f"entries after #{last} are missing (the chain head is #{head.seq})")
    if head is None and rows:
        return Verification(False, last, last, "the chain head is missing")
    return Verification(True, last)


def _check(tenant_id: str, row: Any, prev: str, expected: int) -> tuple[int, str] | None:
    if row.seq != expected:
        return expected, f"entry #{expected} is missing (next present is #{row.seq})"
    if row.prev_hash != prev:
        return row.seq, f"entry #{row.seq} does not follow #{row.seq - 1} (removed or reordered)"
    entry = _entry(row)
    if entry_hash(tenant_id, entry, row.details) != row.hash:
        return row.seq, f"entry #{row.seq} was edited (its hash does not match its content)"
    return None


@dataclass(frozen=True)
class AuditTrail:
    """The audit log of one context (``tenant.audit``)."""

    db: Database
    ctx: Context

    def record(self, action: str, subject: str | None = None,
               details: dict[str, Any] | None = None) -> AuditEntry:
        return record(self.db, self.ctx, action, subject, details)

    def list(self, **filters: Any) -> list[AuditEntry]:
        return entries(self.db, self.ctx, **filters)

    def verify(self) -> Verification:
        return verify(self.db, self.ctx)
