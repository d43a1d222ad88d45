"""The audit chain: append-only entries, each keyed over its content and the previous hash.

    record(conn_or_db, ctx, "pii.reveal", subject=token, details={"ticket_id": "T1"})
    verify(db, ctx)  # -> Verification(ok=False, bad_seq=7, problem="entry #7 was edited ...")

Every privileged action calls :func:`record` inside the transaction that does the work, so
an action and its entry commit together. Chains are per tenant. Each hash is an HMAC-SHA256
under the tenant's audit key, which the workspace derives from the master key and hands in
through the context (``ctx.sealer``): it is never in the database, so whoever can write the
database cannot recompute the chain. A head row keeps the newest (seq, hash), so deleting
the last entries is caught as well as edits, gaps and reorders; an anchor (``integrity.py``)
kept elsewhere catches a truncation or wipe of everything, head included.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, text, update

from supportops.errors import ConfigError
from supportops.governance.context import Context, Role
from supportops.governance.seal import AuditSealer
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


def entry_content(tenant_id: str, entry: AuditEntry, details_json: str) -> bytes:
    """The canonical bytes of an entry: its content and the previous entry's hash."""
    return orjson.dumps(
        [tenant_id, entry.seq, entry.at.isoformat(), entry.actor, entry.role, entry.action,
         entry.subject, details_json, entry.prev_hash]
    )


def entry_hash(sealer: AuditSealer, tenant_id: str, entry: AuditEntry, details_json: str) -> str:
    """HMAC-SHA256 of :func:`entry_content` under the tenant's audit key."""
    return sealer.mac(entry_content(tenant_id, entry, details_json))


def sealer_of(ctx: Context) -> AuditSealer:
    """The context's audit key; a context built without one cannot write or check the chain."""
    if ctx.sealer is None or ctx.sealer.tenant_id != ctx.tenant_id:
        raise ConfigError(
            f"The audit chain of tenant {ctx.tenant_id!r} is keyed and this context carries no "
            "audit key for it. Open the tenant through Workspace.tenant(...), which derives "
            "the key from the master key.")
    return ctx.sealer


def seq_ranges(seqs: Iterable[int]) -> list[list[int]]:
    """``[1, 2, 3, 7]`` -> ``[[1, 3], [7, 7]]``: how redaction entries list their events."""
    ranges: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


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
    sealer = sealer_of(ctx)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                     {"k": f"audit:{ctx.tenant_id}"})
    head = conn.execute(select(audit_heads.c.seq, audit_heads.c.hash)
                        .where(audit_heads.c.tenant_id == ctx.tenant_id)).first()
    seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS)
    now = datetime.now(UTC)
    draft = AuditEntry(seq, now, ctx.principal_id, ctx.role, action, subject,
                       orjson.loads(details_json), prev)
    digest = entry_hash(sealer, ctx.tenant_id, draft, details_json)
    conn.execute(insert(audit_log).values(
        tenant_id=ctx.tenant_id, seq=seq, at=now, actor=ctx.principal_id, role=ctx.role,
        action=action, subject=subject, details=details_json, prev_hash=prev, hash=digest))
    if head is None:
        conn.execute(insert(audit_heads).values(tenant_id=ctx.tenant_id, seq=seq, hash=digest))
    else:
        conn.execute(update(audit_heads).where(audit_heads.c.tenant_id == ctx.tenant_id)
                     .values(seq=seq, hash=digest))
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


@dataclass
class ChainCheck:
    """What :func:`check_chain` found: the head it reached, the events that redaction
    entries name, the first problem and the hashes at the asked positions."""

    checked: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    redacted: set[int] = field(default_factory=set)
    bad_seq: int | None = None
    problem: str | None = None
    hashes: dict[int, str] = field(default_factory=dict)

    def fail(self, seq: int, problem: str) -> ChainCheck:
        self.bad_seq, self.problem = seq, problem
        return self


def check_chain(db: Database, ctx: Context,
                positions: frozenset[int] = frozenset()) -> ChainCheck:
    """Walk the chain with the tenant's key; the first entry edited, removed or moved is
    named, and so is a head that does not match the last entry."""
    ctx.require(*READ_ROLES, action="verify the audit log")
    sealer = sealer_of(ctx)
    with db.begin(ctx.tenant_id) as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.tenant_id == ctx.tenant_id)
                            .order_by(audit_log.c.seq)).all()
        head = conn.execute(select(audit_heads.c.seq, audit_heads.c.hash)
                            .where(audit_heads.c.tenant_id == ctx.tenant_id)).first()
    check = ChainCheck()
    for row in rows:
        problem = _check(sealer, ctx.tenant_id, row, check.head_hash, check.head_seq + 1)
        if problem:
            return check.fail(*problem)
        check.checked, check.head_seq, check.head_hash = row.seq, row.seq, row.hash
        if row.seq in positions:
            check.hashes[row.seq] = row.hash
        _collect_redactions(check.redacted, row.details)
    last = check.head_seq
    if head is not None and (head.seq != last or head.hash != check.head_hash):
        return check.fail(head.seq, f"entries after #{last} are missing (the chain head is "
                                    f"#{head.seq})")
    if head is None and rows:
        return check.fail(last, "the chain head is missing")
    return check


def _collect_redactions(into: set[int], details_json: str) -> None:
    if "redacted_seqs" not in details_json:
        return
    for first, last in orjson.loads(details_json).get("redacted_seqs") or []:
        into.update(range(int(first), int(last) + 1))


def verify(db: Database, ctx: Context) -> Verification:
    """The audit chain alone (``AuditTrail.verify`` adds the event log and an anchor)."""
    check = check_chain(db, ctx)
    return Verification(check.problem is None, check.checked, check.bad_seq, check.problem)


def _check(sealer: AuditSealer, tenant_id: str, row: Any, prev: str,
           expected: int) -> tuple[int, str] | None:
    if row.seq != expected:
        return expected, f"entry #{expected} is missing (next present is #{row.seq})"
    if row.prev_hash != prev:
        return row.seq, f"entry #{row.seq} does not follow #{row.seq - 1} (removed or reordered)"
    entry = _entry(row)
    if entry_hash(sealer, tenant_id, entry, row.details) != row.hash:
        return row.seq, (f"entry #{row.seq} was edited (its keyed hash does not match its "
                         "content)")
    return None
