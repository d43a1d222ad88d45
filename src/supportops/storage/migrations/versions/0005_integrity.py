"""Integrity: a hash-chained event log, a keyed audit chain, and triggers that refuse the rest.

Revision ID: 0005_integrity
Revises: 0010_subjects

- ``events.payload_hash`` (SHA-256 of the payload as stored) and ``events.hash`` becomes a
  chain: SHA-256 over the previous hash and every stored field. Existing rows are backfilled
  in sequence order; an event redacted before this revision keeps its old content hash as
  its ``payload_hash`` and its payload becomes the canonical tombstone.
- The audit chain is re-keyed: each hash becomes HMAC-SHA256 under the tenant's audit key
  (derived from the master key, handed in as ``audit_sealer``; never stored). An
  ``audit.upgrade`` entry records the events redacted before this revision.
- Triggers (both back-ends): no DELETE of events; an UPDATE only as one redaction (payload
  into the tombstone, ``redacted_at`` set once, every other column unchanged); audit heads
  move forward one entry at a time and are never deleted.

It follows ``0010_subjects``: ``supportops init`` brings the data of a workspace written before
sealed content forward between the two (``privacy/legacy.py``), so that the chain covers the
data as it is from then on.

Everything here is frozen: table shapes, hash formats and trigger text are this revision's
own, not the live modules'.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import context, op

revision = "0005_integrity"
down_revision = "0010_subjects"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
TOMBSTONES = ('{"redacted":"erasure"}', '{"redacted":"retention"}')
_BATCH = 5000

_events = sa.table(
    "events",
    sa.column("tenant_id", sa.String), sa.column("seq", sa.BigInteger),
    sa.column("id", sa.String), sa.column("type", sa.String),
    sa.column("ticket_id", sa.String), sa.column("subject", sa.String),
    sa.column("occurred_at", sa.DateTime), sa.column("idempotency_key", sa.String),
    sa.column("payload", sa.Text), sa.column("hash", sa.String),
    sa.column("payload_hash", sa.String), sa.column("redacted_at", sa.DateTime),
)
_audit_log = sa.table(
    "audit_log",
    sa.column("tenant_id", sa.String), sa.column("seq", sa.BigInteger),
    sa.column("at", sa.DateTime), sa.column("actor", sa.String), sa.column("role", sa.String),
    sa.column("action", sa.String), sa.column("subject", sa.String),
    sa.column("details", sa.Text), sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)
_audit_heads = sa.table("audit_heads", sa.column("tenant_id", sa.String),
                        sa.column("seq", sa.BigInteger), sa.column("hash", sa.String))
_tenants = sa.table("tenants", sa.column("id", sa.String))

Mac = Callable[[bytes], str]


# -- frozen hash formats ----------------------------------------------------------------------

def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _event_link(prev: str, tenant_id: str, row: Any, content: str) -> str:
    fields = [prev, tenant_id, row.seq, row.id, row.type, row.ticket_id, row.subject,
              _utc(row.occurred_at).strftime("%Y-%m-%dT%H:%M:%S.%f"), row.idempotency_key,
              content]
    return hashlib.sha256(orjson.dumps(fields)).hexdigest()


def _entry_content(tenant_id: str, seq: int, at: datetime, actor: str, role: str, action: str,
                   subject: str | None, details: str, prev: str) -> bytes:
    return orjson.dumps([tenant_id, seq, _utc(at).isoformat(), actor, role, action, subject,
                         details, prev])


# -- triggers ---------------------------------------------------------------------------------

_PG_EVENTS_GUARD = """
CREATE OR REPLACE FUNCTION supportops_events_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'events are append-only: delete refused';
  END IF;
  IF OLD.redacted_at IS NOT NULL THEN
    RAISE EXCEPTION 'events are append-only: event % is already redacted', OLD.seq;
  END IF;
  IF NEW.redacted_at IS NULL
     OR NEW.payload NOT IN ('{"redacted":"erasure"}', '{"redacted":"retention"}')
     OR ROW(NEW.tenant_id, NEW.seq, NEW.id, NEW.subject, NEW.ticket_id, NEW.type,
            NEW.occurred_at, NEW.recorded_at, NEW.idempotency_key, NEW.hash, NEW.payload_hash)
        IS DISTINCT FROM
        ROW(OLD.tenant_id, OLD.seq, OLD.id, OLD.subject, OLD.ticket_id, OLD.type,
            OLD.occurred_at, OLD.recorded_at, OLD.idempotency_key, OLD.hash, OLD.payload_hash)
  THEN
    RAISE EXCEPTION 'events are append-only: only a redaction into the tombstone may update one';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
"""

_PG_HEADS_GUARD = """
CREATE OR REPLACE FUNCTION supportops_audit_heads_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.tenant_id <> OLD.tenant_id OR NEW.seq <> OLD.seq + 1 THEN
    RAISE EXCEPTION 'audit_heads is append-only: the head only moves forward by one entry';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
"""

_SAME = ("tenant_id", "seq", "id", "subject", "ticket_id", "type", "occurred_at",
         "recorded_at", "idempotency_key", "hash", "payload_hash")

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN "
    "SELECT RAISE(ABORT, 'events are append-only: delete refused'); END",
    "CREATE TRIGGER events_redact_once BEFORE UPDATE ON events "
    "WHEN OLD.redacted_at IS NOT NULL BEGIN "
    "SELECT RAISE(ABORT, 'events are append-only: the event is already redacted'); END",
    "CREATE TRIGGER events_redact_only BEFORE UPDATE ON events "
    "WHEN NEW.redacted_at IS NULL "
    "OR NEW.payload NOT IN ('{\"redacted\":\"erasure\"}', '{\"redacted\":\"retention\"}') "
    + "".join(f"OR NEW.{c} IS NOT OLD.{c} " for c in _SAME)
    + "BEGIN SELECT RAISE(ABORT, "
    "'events are append-only: only a redaction into the tombstone may update one'); END",
    "CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON audit_heads BEGIN "
    "SELECT RAISE(ABORT, 'audit_heads is append-only: delete refused'); END",
    "CREATE TRIGGER audit_heads_forward BEFORE UPDATE ON audit_heads "
    "WHEN NEW.tenant_id IS NOT OLD.tenant_id OR NEW.seq IS NOT OLD.seq + 1 BEGIN "
    "SELECT RAISE(ABORT, 'audit_heads is append-only: the head only moves forward by one "
    "entry'); END",
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log BEGIN "
    "SELECT RAISE(ABORT, 'audit_log is append-only: delete refused'); END",
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log BEGIN "
    "SELECT RAISE(ABORT, 'audit_log is append-only: update refused'); END",
)


def _drop_guards(dialect: str) -> None:
    """Lift the older guards for the backfill (they refuse rewriting ``hash``)."""
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        op.execute("DROP TRIGGER IF EXISTS audit_append_only ON audit_log")
        return
    for name in ("events_no_delete", "events_redact_only", "events_redact_once",
                 "audit_no_delete", "audit_no_update", "audit_heads_no_delete",
                 "audit_heads_forward"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")


def _create_guards(dialect: str) -> None:
    if dialect != "postgresql":
        for sql in _SQLITE_TRIGGERS:
            op.execute(sql)
        return
    op.execute(_PG_EVENTS_GUARD)
    op.execute("CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
               "FOR EACH ROW EXECUTE FUNCTION supportops_events_guard()")
    op.execute(_PG_HEADS_GUARD)
    op.execute("CREATE TRIGGER audit_heads_forward BEFORE UPDATE OR DELETE ON audit_heads "
               "FOR EACH ROW EXECUTE FUNCTION supportops_audit_heads_guard()")
    op.execute("CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_log "
               "FOR EACH ROW EXECUTE FUNCTION supportops_audit_guard()")


# -- backfill ---------------------------------------------------------------------------------

def _scope(conn: sa.Connection, tenant_id: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT set_config('supportops.tenant', :t, true)"),
                     {"t": tenant_id})


def _tombstone_of(payload: str) -> str:
    try:
        reason = orjson.loads(payload).get("redacted")
    except (orjson.JSONDecodeError, AttributeError):
        reason = None
    return TOMBSTONES[1] if reason == "retention" else TOMBSTONES[0]


def _chain_events(conn: sa.Connection, tenant_id: str) -> list[int]:
    """Re-hash one tenant's events as a chain; returns the seqs redacted before."""
    prev, position = GENESIS, 0
    redacted: list[int] = []
    while True:
        rows = conn.execute(sa.select(_events).where(
            _events.c.tenant_id == tenant_id, _events.c.seq > position)
            .order_by(_events.c.seq).limit(_BATCH)).all()
        if not rows:
            return redacted
        changes = []
        for row in rows:
            payload, content = row.payload, hashlib.sha256(row.payload.encode()).hexdigest()
            if row.redacted_at is not None:
                payload, content = _tombstone_of(row.payload), row.hash
                redacted.append(row.seq)
            prev = _event_link(prev, tenant_id, row, content)
            changes.append({"t": tenant_id, "s": row.seq, "p": payload, "ph": content, "h": prev})
        conn.execute(sa.update(_events).where(
            _events.c.tenant_id == sa.bindparam("t"), _events.c.seq == sa.bindparam("s"))
            .values(payload=sa.bindparam("p"), payload_hash=sa.bindparam("ph"),
                    hash=sa.bindparam("h")), changes)
        position = rows[-1].seq


def _ranges(seqs: list[int]) -> list[list[int]]:
    ranges: list[list[int]] = []
    for seq in seqs:
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


def _legacy_broken(tenant_id: str, row: Any, previous: Any) -> bool:
    """Whether an entry fails the old unkeyed check (recorded in ``audit.upgrade``, since
    re-keying would otherwise hide it)."""
    content = _entry_content(tenant_id, row.seq, row.at, row.actor, row.role, row.action,
                             row.subject, row.details, row.prev_hash)
    expected = (previous.seq + 1, previous.hash) if previous is not None else (1, GENESIS)
    return (row.seq, row.prev_hash) != expected or \
        hashlib.sha256(content).hexdigest() != row.hash


def _rekey_audit(conn: sa.Connection, tenant_id: str, mac: Mac, redacted: list[int]) -> None:
    """HMAC every entry in order, then append ``audit.upgrade`` and set the head."""
    rows = conn.execute(sa.select(_audit_log).where(_audit_log.c.tenant_id == tenant_id)
                        .order_by(_audit_log.c.seq)).all()
    prev, seq, broken, previous = GENESIS, 0, None, None
    for row in rows:
        if broken is None and _legacy_broken(tenant_id, row, previous):
            broken = row.seq
        seq, previous = row.seq, row
        digest = mac(_entry_content(tenant_id, row.seq, row.at, row.actor, row.role, row.action,
                                    row.subject, row.details, prev))
        conn.execute(sa.update(_audit_log).where(
            _audit_log.c.tenant_id == tenant_id, _audit_log.c.seq == row.seq)
            .values(prev_hash=prev, hash=digest))
        prev = digest
    now = datetime.now(UTC).replace(tzinfo=None)
    legacy = "intact" if broken is None else f"broken at #{broken} before the upgrade"
    details = orjson.dumps({"migration": revision, "rekeyed_entries": len(rows),
                            "legacy_chain": legacy, "redacted_seqs": _ranges(redacted)},
                           option=orjson.OPT_SORT_KEYS).decode()
    seq += 1
    digest = mac(_entry_content(tenant_id, seq, now, "owner", "admin", "audit.upgrade", None,
                                details, prev))
    conn.execute(sa.insert(_audit_log).values(
        tenant_id=tenant_id, seq=seq, at=now, actor="owner", role="admin",
        action="audit.upgrade", subject=None, details=details, prev_hash=prev, hash=digest))
    conn.execute(sa.delete(_audit_heads).where(_audit_heads.c.tenant_id == tenant_id))
    conn.execute(sa.insert(_audit_heads).values(tenant_id=tenant_id, seq=seq, hash=digest))


def _backfill(conn: sa.Connection) -> None:
    sealer: Callable[[str], Any] | None = context.config.attributes.get("audit_sealer")
    tenant_ids = list(conn.execute(sa.select(_tenants.c.id).order_by(_tenants.c.id)).scalars())
    if tenant_ids and sealer is None:
        raise RuntimeError("Migration 0005_integrity re-keys the audit chains of existing "
                           "tenants and needs the master key: run 'supportops init' on the "
                           "workspace (Workspace.init passes it).")
    for tenant_id in tenant_ids:
        assert sealer is not None
        _scope(conn, tenant_id)
        redacted = _chain_events(conn, tenant_id)
        _rekey_audit(conn, tenant_id, sealer(tenant_id).mac, redacted)


def upgrade() -> None:
    conn = op.get_bind()
    dialect = conn.dialect.name
    columns = {c["name"] for c in sa.inspect(conn).get_columns("events")}
    if "payload_hash" not in columns:
        op.add_column("events", sa.Column("payload_hash", sa.String(64), nullable=True))
    _drop_guards(dialect)
    _backfill(conn)
    _create_guards(dialect)


def downgrade() -> None:
    raise NotImplementedError("0005_integrity is not reversible: the old hashes are gone.")
