"""Erasure of one data subject, everywhere, in one transaction, with a stored report.

1. destroy the subject key (crypto-shredding: backed-up ciphertexts become unreadable);
2. delete its vault entries;
3. redact its events into the canonical tombstone (every stored field and both hashes stay;
   the payload goes and readers no longer see the ticket link, so replays skip them); the
   audit entry lists the redacted seqs, which ``audit verify`` checks;
4. delete its ticket projection rows and, through the erasure hooks of the database's
   composition, derived rows of higher rooms (search index, vectors...), which privacy
   never imports;
5. through lineage, mark snapshots that held it for rebuild and models trained on them as
   ``contains_erased_data``, scheduling retraining per tenant policy;
6. audit, store the report; after commit, checkpoint the SQLite WAL so no bytes survive.

The audit entry, the lineage flags and the stored report name the subject by its keyed
reference (``Keyring.subject_ref``), never by its token: once the key is gone, nothing left
names the pseudonym (the tombstones' ``events.subject`` is sealed, see ``sealed_subjects``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from supportops.errors import NotFound, ValidationFailed
from supportops.events.log import tombstone
from supportops.governance import audit, lineage
from supportops.governance.context import Context, Role
from supportops.privacy import vault
from supportops.privacy.keys import Keyring
from supportops.privacy.policy import get_policy
from supportops.privacy.sealed_subjects import subject_where
from supportops.privacy.subjects import CUSTOMER, OWNER_KINDS, TOKEN_KINDS, EraseKind
from supportops.privacy.tables import erasure_reports, subject_keys
from supportops.storage import Database
from supportops.storage.schema import events, tickets

ERASE_ROLES: tuple[Role, ...] = ("admin", "privacy_officer")
TOMBSTONE = tombstone("erasure")
_CHUNK = 2000

#: ``(conn, ctx, subject_token, event_ids) -> rows purged``: derived data of higher rooms.
ErasureHook = Callable[[Connection, Context, str, Sequence[str]], int]


@runtime_checkable
class ErasureWiring(Protocol):
    """The piece of the workspace's composition erasure uses: each higher room's purge."""

    @property
    def erasure_hooks(self) -> Mapping[str, ErasureHook]: ...


def hooks_of(db: Database) -> Mapping[str, ErasureHook]:
    """The erasure hooks of the composition ``db`` was built with (none without one). Taken
    from the database handle, which the erasure already receives: the workspace built it with
    the hooks its rooms declare, so no hook can be missing because a module went unimported."""
    wiring = db.wiring
    return wiring.erasure_hooks if isinstance(wiring, ErasureWiring) else {}


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


def erase(db: Database, ctx: Context, keyring: Keyring, subject: str,
          kind: EraseKind = "customer",
          hooks: Mapping[str, ErasureHook] | None = None) -> ErasureReport:
    """Forget ``subject`` (original id, or its token) of ``kind`` everywhere; returns the
    stored report. ``hooks``: the derived data to purge (default: :func:`hooks_of` ``db``)."""
    ctx.require(*ERASE_ROLES, action="erase a data subject")
    if kind not in TOKEN_KINDS:
        raise ValidationFailed(f"Subject kind {kind!r} is not one of "
                               f"{', '.join(TOKEN_KINDS)}; pass --kind customer|agent|employee.")
    with db.begin(ctx.tenant_id) as conn:
        keyring.load(conn)  # references are keyed, also for a subject given as its token
        token = subject_token(conn, keyring, subject, kind)
        if kind == "customer":
            report = _erase(conn, ctx, keyring, token, hooks_of(db) if hooks is None else hooks)
        else:
            report = _erase_staff(conn, ctx, keyring, token, kind)
    db.checkpoint()
    return report


def subject_token(conn: Connection, keyring: Keyring, subject: str,
                  kind: EraseKind = "customer") -> str:
    """A subject's token (a customer id's ``<CUSTOMER_..>``, an agent's or employee's
    ``<PERSON_..>``); a token (e.g. from lineage) is taken as it is."""
    if vault.TOKEN_RE.fullmatch(subject):
        return subject
    keyring.load(conn)
    return keyring.token(TOKEN_KINDS[kind], subject)


def _shred(conn: Connection, keyring: Keyring, ref: str) -> tuple[bool, int]:
    """Destroy a subject's key and vault rows: (whether a key existed, rows deleted)."""
    had_key = keyring.destroy_subject_key(conn, ref) > 0
    return had_key, vault.delete_subject(conn, keyring, ref)


def _erase_staff(conn: Connection, ctx: Context, keyring: Keyring, token: str,
                 kind: EraseKind) -> ErasureReport:
    """An agent or employee: their key and vault rows go; the tokens that stand for them in
    customers' records can no longer be linked to anyone."""
    ref = keyring.subject_ref(OWNER_KINDS[kind], token)
    had_key, deleted = _shred(conn, keyring, ref)
    if not had_key and not deleted:
        raise NotFound(f"No {kind} {token} has data in tenant {ctx.tenant_id!r}; nothing to "
                       f"erase. Check the {kind}'s name as it appeared in the input.")
    report = ErasureReport(ref, vault_entries_deleted=deleted)
    vault.unlink(conn, keyring, ref)
    return _finish(conn, ctx, report, {"kind": kind, "tickets": 0})


def _third_parties(conn: Connection, keyring: Keyring, ref: str) -> int:
    """Third parties named only in this customer's records are erased with it."""
    deleted = 0
    for linked in vault.exclusive_links(conn, keyring, ref):
        deleted += _shred(conn, keyring, linked)[1]
        vault.unlink(conn, keyring, linked)
    vault.unlink(conn, keyring, ref)
    return deleted


def _erase(conn: Connection, ctx: Context, keyring: Keyring, token: str,
           hooks: Mapping[str, ErasureHook]) -> ErasureReport:
    rows = conn.execute(select(events.c.id, events.c.ticket_id, events.c.subject).where(
        events.c.tenant_id == ctx.tenant_id, subject_where(conn, keyring, token))).all()
    ref = keyring.subject_ref(CUSTOMER, token)
    has_key = conn.execute(select(subject_keys.c.subject).where(
        subject_keys.c.tenant_id == ctx.tenant_id, subject_keys.c.subject == ref)).first()
    if not rows and has_key is None:
        raise NotFound(f"Subject {token} has no data in tenant {ctx.tenant_id!r}; nothing to "
                       "erase. Check the customer id as it appeared in the input.")
    report = ErasureReport(ref)
    report.vault_entries_deleted = _shred(conn, keyring, ref)[1]
    third = _third_parties(conn, keyring, ref)
    report.vault_entries_deleted += third
    event_ids = [r.id for r in rows]
    ticket_ids = sorted({r.ticket_id for r in rows if r.ticket_id})
    redacted = _redact_events(conn, ctx, event_ids)
    report.events_redacted = len(redacted)
    _delete_tickets(conn, ctx, {token, *(r.subject for r in rows)}, ticket_ids)
    report.derived = {name: hook(conn, ctx, token, event_ids) for name, hook in hooks.items()}
    retrain = get_policy(conn, ctx).retrain == "on_erasure"
    flagged = lineage.flag_subject(conn, ctx, [ref, token], f"erasure of subject {ref}",
                                   retrain=retrain)
    report.snapshots, report.models, report.pending = (flagged.snapshots, flagged.models,
                                                       flagged.pending)
    lineage.forget_subject(conn, ctx, token, ref)
    return _finish(conn, ctx, report, {"kind": "customer", "tickets": len(ticket_ids),
                                       "third_party_entries_deleted": third,
                                       "redacted_seqs": audit.seq_ranges(redacted)})


def _finish(conn: Connection, ctx: Context, report: ErasureReport,
            extra: dict[str, Any]) -> ErasureReport:
    """Audit and store the report (both name the subject by its reference)."""
    now = datetime.now(UTC)
    report.completed_at = now.isoformat()
    residue = physical_residue(conn)
    if residue is not None:
        report.pending.append(residue)
    audit.record(conn, ctx, "privacy.erase", subject=report.subject, details={
        **extra, "events_redacted": report.events_redacted,
        "vault_entries_deleted": report.vault_entries_deleted, "derived": report.derived,
        "snapshots": report.snapshots, "models": report.models})
    conn.execute(insert(erasure_reports).values(
        tenant_id=ctx.tenant_id, subject=report.subject, completed_at=now,
        report=orjson.dumps(report.as_dict()).decode()))
    return report


def physical_residue(conn: Connection) -> dict[str, str] | None:
    """What remains on disk after the transaction until the server reuses the space (a
    pending item of the report); ``None`` on SQLite, which overwrites deleted content
    (``secure_delete``) and truncates its WAL after the erasure."""
    if conn.dialect.name != "postgresql":
        return None
    return {"id": "", "action": "reclaim_space", "target": "postgresql",
            "status": "until_vacuum",
            "detail": "Old row versions (dead tuples) and WAL segments stay on disk until VACUUM "
                      "and checkpoints reuse the space. Log, projection and vault rows hold only "
                      "ciphertext under the destroyed key there (unreadable); deleted derived "
                      "rows (search vectors, embeddings) stay readable in those pages until "
                      "the space is reused (VACUUM FULL rewrites the tables at once)."}


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


def _delete_tickets(conn: Connection, ctx: Context, names: set[str],
                    ticket_ids: list[str]) -> None:
    """The subject's tickets: by its stored subject (sealed, or a token before) and by id."""
    conn.execute(delete(tickets).where(tickets.c.tenant_id == ctx.tenant_id,
                                       tickets.c.subject.in_(sorted(names))))
    for i in range(0, len(ticket_ids), _CHUNK):
        conn.execute(delete(tickets).where(tickets.c.tenant_id == ctx.tenant_id,
                                           tickets.c.ticket_id.in_(ticket_ids[i : i + _CHUNK])))


def reports(db: Database, ctx: Context, keyring: Keyring, subject: str,
            kind: EraseKind = "customer") -> list[dict[str, Any]]:
    """Every stored erasure report of ``subject`` (original id or token), oldest first
    (reports stored before references named the token)."""
    ctx.require(*ERASE_ROLES, action="read erasure reports")
    with db.begin(ctx.tenant_id) as conn:
        token = subject_token(conn, keyring, subject, kind)
        names = [keyring.subject_ref(OWNER_KINDS[kind], token), token]
        rows = conn.execute(select(erasure_reports.c.report).where(
            erasure_reports.c.tenant_id == ctx.tenant_id, erasure_reports.c.subject.in_(names))
            .order_by(erasure_reports.c.completed_at)).scalars().all()
    if not rows:
        raise NotFound(f"No erasure report for subject {token} in tenant {ctx.tenant_id!r}.")
    return [orjson.loads(r) for r in rows]
