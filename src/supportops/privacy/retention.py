"""Retention: redact old message bodies and drop closed tickets' personal data, per policy.

Safe to run from cron: one transaction per run, a lock on PostgreSQL, and only events not
yet redacted are touched, so a second run changes nothing. When every event of a subject
has been redacted, its vault entries and key go too (nothing left could refer to them).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, and_, func, or_, select, text, update

from supportops.events import cipher
from supportops.events.log import tombstone
from supportops.governance import audit
from supportops.governance.context import Context
from supportops.privacy import vault
from supportops.privacy.keys import Keyring
from supportops.privacy.policy import POLICY_ROLES, get_policy
from supportops.privacy.sealed_subjects import stored_ref
from supportops.storage import Database
from supportops.storage.schema import events, tickets

_CHUNK = 2000


def strip_pii(attributes: dict[str, Any]) -> dict[str, Any]:
    """A copy without any value that holds a pseudonym or sealed (encrypted) free text."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if isinstance(value, dict):
            out[key] = strip_pii(value)
        elif not (isinstance(value, str) and (value.startswith(cipher.MARK)
                                              or vault.TOKEN_RE.search(value))):
            out[key] = value
    return out


def enforce(db: Database, ctx: Context, keyring: Keyring,
            now: datetime | None = None) -> dict[str, Any]:
    """Apply the tenant's retention policy once; returns what it changed (and audits it)."""
    ctx.require(*POLICY_ROLES, action="enforce retention")
    now = now or datetime.now(UTC)
    with db.begin(ctx.tenant_id) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                         {"k": f"retention:{ctx.tenant_id}"})
        policy = get_policy(conn, ctx)
        result: dict[str, Any] = {"policy": policy.as_dict(), "messages_redacted": 0,
                                  "tickets_stripped": 0, "events_stripped": 0,
                                  "subjects_shredded": 0, "ran_at": now.isoformat()}
        touched: set[str] = set()
        seqs: list[int] = []
        if policy.message_body_days is not None:
            cutoff = now - timedelta(days=policy.message_body_days)
            result["messages_redacted"] = len(_redact(conn, ctx, touched, now, and_(
                events.c.type == "message.added", events.c.occurred_at < cutoff), seqs))
        if policy.closed_ticket_pii_days is not None:
            cutoff = now - timedelta(days=policy.closed_ticket_pii_days)
            ids = _closed_before(conn, ctx, cutoff)
            stripped: set[str] = set()
            for i in range(0, len(ids), _CHUNK):
                changed = _redact(conn, ctx, touched, now,
                                  events.c.ticket_id.in_(ids[i : i + _CHUNK]), seqs)
                result["events_stripped"] += len(changed)
                stripped.update(changed)
                _strip_tickets(conn, ctx, sorted(set(changed)))
            result["tickets_stripped"] = len(stripped)
        result["subjects_shredded"] = _shred_spent(conn, ctx, keyring, touched)
        audit.record(conn, ctx, "privacy.retention", details={
            **{k: v for k, v in result.items() if k != "policy"},
            "redacted_seqs": audit.seq_ranges(seqs)})
    db.checkpoint()
    return result


def _redact(conn: Connection, ctx: Context, touched: set[str], now: datetime,
            where: Any, seqs: list[int]) -> list[str]:
    """Redact matching live events into the tombstone (their seqs go to ``seqs``); returns
    their ticket ids (one per event)."""
    rows = conn.execute(select(events.c.seq, events.c.type, events.c.subject, events.c.payload,
                               events.c.ticket_id)
                        .where(events.c.tenant_id == ctx.tenant_id,
                               events.c.redacted_at.is_(None), where)).all()
    for row in rows:
        conn.execute(update(events).where(
            events.c.tenant_id == ctx.tenant_id, events.c.seq == row.seq,
            events.c.redacted_at.is_(None))
            .values(payload=tombstone("retention"), redacted_at=now))
        seqs.append(row.seq)
        if row.subject:
            touched.add(row.subject)
    return [row.ticket_id or "" for row in rows]


def _closed_before(conn: Connection, ctx: Context, cutoff: datetime) -> list[str]:
    closed = func.coalesce(tickets.c.closed_at, tickets.c.resolved_at)
    return list(conn.execute(select(tickets.c.ticket_id).where(
        tickets.c.tenant_id == ctx.tenant_id, closed.is_not(None), closed < cutoff,
        or_(tickets.c.closed_at.is_not(None), func.lower(tickets.c.status).in_(
            ("closed", "resolved", "solved", "completed")))
    ).order_by(tickets.c.ticket_id)).scalars())


def _strip_tickets(conn: Connection, ctx: Context, ids: list[str]) -> None:
    rows = conn.execute(select(tickets.c.ticket_id, tickets.c.attributes).where(
        tickets.c.tenant_id == ctx.tenant_id, tickets.c.ticket_id.in_(ids))).all()
    for row in rows:
        attributes = strip_pii(orjson.loads(row.attributes or "{}"))
        conn.execute(update(tickets).where(
            tickets.c.tenant_id == ctx.tenant_id, tickets.c.ticket_id == row.ticket_id)
            .values(subject_line=None, assignee=None,
                    attributes=orjson.dumps(attributes, option=orjson.OPT_SORT_KEYS).decode()))


def _shred_spent(conn: Connection, ctx: Context, keyring: Keyring, subjects: set[str]) -> int:
    """Subjects whose every event is redacted lose their vault entries and key."""
    shredded = 0
    keyring.load(conn)
    for subject in sorted(subjects):
        live = conn.execute(select(events.c.seq).where(
            events.c.tenant_id == ctx.tenant_id, events.c.subject == subject,
            events.c.redacted_at.is_(None)).limit(1)).first()
        if live is None:
            ref = stored_ref(keyring, subject)
            vault.delete_subject(conn, keyring, ref)
            shredded += keyring.destroy_subject_key(conn, ref)
    return shredded
