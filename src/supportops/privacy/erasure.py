"""Erasure of one data subject, everywhere, in one transaction, with a stored report.

1. destroy the subject key (crypto-shredding: backed-up ciphertexts become unreadable);
2. delete its vault entries;
3. redact its events into the canonical tombstone (every stored field and both hashes stay;
   the payload goes and readers no longer see the ticket link, so replays skip them); the
   audit entry lists the redacted seqs, which ``audit verify`` checks;
4. delete its ticket projection rows and, through registered hooks, derived rows of higher
   rooms (search index, vectors...), which privacy never imports;
5. through lineage, mark snapshots that held it for rebuild and models trained on them as
   ``contains_erased_data``, scheduling retraining per tenant policy;
6. audit, store the report; after commit, checkpoint the SQLite WAL so no bytes survive.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from supportops.errors import NotFound
from supportops.events.log import tombstone
from supportops.governance import audit, lineage
from supportops.governance.context import Context, Role
from supportops.privacy import vault
from supportops.privacy.keys import Keyring
from supportops.privacy.policy import get_policy
from supportops.privacy.tables import erasure_reports, subject_keys
from supportops.storage import Database
from supportops.storage.schema import events, tickets

ERASE_ROLES: tuple[Role, ...] = ("admin", "privacy_officer")
TOMBSTONE = tombstone("erasure")
_CHUNK = 2000

#: ``(conn, ctx, subject_token, event_ids) -> rows purged``: derived data of higher rooms.
ErasureHook = Callable[[Connection, Context, str, Sequence[str]], int]
_HOOKS: dict[str, ErasureHook] = {}


def register_erasure_hook(name: str, hook: ErasureHook) -> None:
    """Higher rooms (search index, embeddings cache) register their purge here at import."""
    _HOOKS[name] = hook


def erasure_hooks() -> dict[str, ErasureHook]:
    return dict(_HOOKS)


@dataclass
class ErasureReport:
    subject: str
    events_redacted: int = 0
    vault_entries_deleted: int = 0
    snapshots: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    pending: list[dict[str, str]] = field(default_factory=list)
    completed_at: str = ""
    derived: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The report's public shape (derived-row counts are in the audit entry)."""
        return {"subject": self.subject, "events_redacted": self.events_redacted,
                "vault_entries_deleted": self.vault_entries_deleted,
                "snapshots": self.snapshots, "models": self.models, "pending": self.pending,
                "completed_at": self.completed_at}


def erase(db: Database, ctx: Context, keyring: Keyring, subject: str) -> ErasureReport:
    """Forget ``subject`` (original id, or its token) everywhere; returns the stored report."""
    ctx.require(*ERASE_ROLES, action="erase a data subject")
    with db.begin(ctx.tenant_id) as conn:
        report = _erase(conn, ctx, keyring, subject_token(conn, keyring, subject))
    db.checkpoint()
    return report


def subject_token(conn: Connection, keyring: Keyring, subject: str) -> str:
    """A customer id's token; a token (e.g. from lineage) is taken as it is."""
    if vault.TOKEN_RE.fullmatch(subject):
        return subject
    keyring.load(conn)
    return keyring.token("CUSTOMER", subject)


def _erase(conn: Connection, ctx: Context, keyring: Keyring, token: str) -> ErasureReport:
    rows = conn.execute(select(events.c.id, events.c.ticket_id, events.c.redacted_at).where(
        events.c.tenant_id == ctx.tenant_id, events.c.subject == token)).all()
    has_key = conn.execute(select(subject_keys.c.subject).where(
        subject_keys.c.tenant_id == ctx.tenant_id, subject_keys.c.subject == token)).first()
    if not rows and has_key is None:
        raise NotFound(f"Subject {token} has no data in tenant {ctx.tenant_id!r}; nothing to "
                       "erase. Check the customer id as it appeared in the input.")
    report = ErasureReport(token)
    keyring.destroy_subject_key(conn, token)
    report.vault_entries_deleted = vault.delete_subject(conn, keyring, token)
    event_ids = [r.id for r in rows]
    ticket_ids = sorted({r.ticket_id for r in rows if r.ticket_id})
    redacted = _redact_events(conn, ctx, event_ids)
    report.events_redacted = len(redacted)
    _delete_tickets(conn, ctx, token, ticket_ids)
    report.derived = {name: hook(conn, ctx, token, event_ids) for name, hook in _HOOKS.items()}
    retrain = get_policy(conn, ctx).retrain == "on_erasure"
    flagged = lineage.flag_subject(conn, ctx, token, f"erasure of {token}", retrain=retrain)
    report.snapshots, report.models, report.pending = (flagged.snapshots, flagged.models,
                                                       flagged.pending)
    now = datetime.now(UTC)
    report.completed_at = now.isoformat()
    audit.record(conn, ctx, "privacy.erase", subject=token, details={
        "events_redacted": report.events_redacted, "tickets": len(ticket_ids),
        "vault_entries_deleted": report.vault_entries_deleted, "derived": report.derived,
        "snapshots": report.snapshots, "models": report.models,
        "redacted_seqs": audit.seq_ranges(redacted)})
    conn.execute(insert(erasure_reports).values(
        tenant_id=ctx.tenant_id, subject=token, completed_at=now,
        report=orjson.dumps(report.as_dict()).decode()))
    return report


def _redact_events(conn: Connection, ctx: Context, event_ids: list[str]) -> list[int]:
    """Tombstones, once each (the database refuses anything else); returns their seqs."""
    seqs: list[int] = []
    now = datetime.now(UTC)
    for i in range(0, len(event_ids), _CHUNK):
        where = (events.c.tenant_id == ctx.tenant_id, events.c.redacted_at.is_(None),
                 events.c.id.in_(event_ids[i : i + _CHUNK]))
        seqs.extend(conn.execute(select(events.c.seq).where(*where)).scalars())
        conn.execute(update(events).where(*where).values(payload=TOMBSTONE, redacted_at=now))
    return seqs


def _delete_tickets(conn: Connection, ctx: Context, token: str, ticket_ids: list[str]) -> None:
    conn.execute(delete(tickets).where(tickets.c.tenant_id == ctx.tenant_id,
                                       tickets.c.subject == token))
    for i in range(0, len(ticket_ids), _CHUNK):
        conn.execute(delete(tickets).where(tickets.c.tenant_id == ctx.tenant_id,
                                           tickets.c.ticket_id.in_(ticket_ids[i : i + _CHUNK])))


def reports(db: Database, ctx: Context, keyring: Keyring, subject: str) -> list[dict[str, Any]]:
    """Every stored erasure report of ``subject`` (original id), oldest first."""
    ctx.require(*ERASE_ROLES, action="read erasure reports")
    with db.begin(ctx.tenant_id) as conn:
        token = subject_token(conn, keyring, subject)
        rows = conn.execute(select(erasure_reports.c.report).where(
            erasure_reports.c.tenant_id == ctx.tenant_id, erasure_reports.c.subject == token)
            .order_by(erasure_reports.c.completed_at)).scalars().all()
    if not rows:
        raise NotFound(f"No erasure report for subject {token} in tenant {ctx.tenant_id!r}.")
    return [orjson.loads(r) for r in rows]
