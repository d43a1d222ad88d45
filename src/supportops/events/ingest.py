"""Idempotent, streaming ingestion: importers yield records, this validates and appends them.

Each bad record is rejected on its own (record number, field, reason) and never costs a good
one; good records are committed batch by batch, so memory stays bounded whatever the file size.
``strict`` makes a file all-or-nothing: one transaction, rolled back if any record is bad.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from supportops.errors import ConfigError, IngestError
from supportops.events import log, projection
from supportops.events.catalogue import CORE, Catalogue
from supportops.events.limits import draft_problem
from supportops.events.schemas import EventDraft
from supportops.events.wiring import wiring
from supportops.governance.context import Context
from supportops.storage import Database

MAX_ERRORS_KEPT = 10_000
#: Fresh transactions a batch gets when concurrent writers keep storing the same records.
CONCURRENT_RETRIES = 5


@dataclass
class RecordError:
    """Why one input record was rejected. ``record`` counts data records from 1."""

    record: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"record": self.record, "field": self.field, "message": self.message}


@dataclass
class Parsed:
    """One input record turned into one or more event drafts (``validated`` once checked)."""

    record: int
    drafts: list[EventDraft]
    validated: bool = False


ImportItem = Parsed | RecordError


@dataclass
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[RecordError] = field(default_factory=list)
    errors_omitted: int = 0

    def reject(self, error: RecordError) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(error)
        else:
            self.errors_omitted += 1

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": [e.as_dict() for e in self.errors],
        }
        if self.errors_omitted:
            out["errors_omitted"] = self.errors_omitted
        return out


def _loc(err: ValidationError) -> tuple[str, str]:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return (f"payload.{where}" if where else "payload"), first.get("msg", "invalid value")


def validate_draft(record: int, draft: EventDraft,
                   catalogue: Catalogue = CORE) -> RecordError | None:
    """Validate a draft in place (payload normalised); return the error if it is bad.
    ``catalogue``: the types known (ingestion passes its database's; the default knows this
    room's own types, which is all a ticket's write-back uses)."""
    if draft.type not in catalogue:
        known = ", ".join(catalogue.names())
        return RecordError(record, "type", f"unknown event type {draft.type!r}; known: {known}")
    if catalogue.needs_ticket(draft.type) and not draft.ticket_id:
        return RecordError(record, "ticket_id", f"a {draft.type!r} event needs a ticket_id")
    if draft.occurred_at.tzinfo is None:
        return RecordError(record, "occurred_at", "timestamp needs a time zone (or 'Z')")
    problem = draft_problem(draft)
    if problem is not None:
        return RecordError(record, *problem)
    try:
        draft.payload = catalogue.validate(draft.type, draft.payload, draft.canonical)
    except ValidationError as err:
        where, msg = _loc(err)
        return RecordError(record, where, msg)
    return None


def validated(items: Iterable[ImportItem],
              catalogue: Catalogue = CORE) -> Iterator[ImportItem]:
    """Records with their drafts validated; a record with a bad draft becomes its error."""
    for item in items:
        if isinstance(item, Parsed) and not item.validated:
            problem = _first_problem(item, catalogue)
            if problem is not None:
                yield problem
                continue
            item.validated = True
        yield item


def _first_problem(item: Parsed, catalogue: Catalogue) -> RecordError | None:
    """The record's first bad draft; an unexpected failure rejects the record, not the file."""
    try:
        for draft in item.drafts:
            problem = validate_draft(item.record, draft, catalogue)
            if problem is not None:
                return problem
    except Exception as err:  # one record's surprise must not sink its file
        return RecordError(item.record, "record", unexpected(err))
    return None


def unexpected(err: BaseException) -> str:
    """One line for an error nobody foresaw: its kind and first line, never a payload dump."""
    orig = getattr(err, "orig", None)  # SQLAlchemy wraps the driver's error
    shown = orig if isinstance(orig, BaseException) else err
    first = (str(shown).strip().splitlines() or [""])[0][:200]
    return f"unexpected error ({type(shown).__name__}: {first})"


def _batches(
    items: Iterable[ImportItem], size: int, report: IngestReport, seen: set[str] | None,
    catalogue: Catalogue,
) -> Iterator[list[Parsed]]:
    """Good records in batches of about ``size`` drafts; bad ones go to the report."""
    batch: list[Parsed] = []
    drafts = 0
    for item in validated(items, catalogue):
        if isinstance(item, RecordError):
            report.reject(item)
            continue
        batch.append(item)
        drafts += len(item.drafts)
        if seen is not None:
            seen.update(d.ticket_id for d in item.drafts if d.ticket_id)
        if drafts >= size:
            yield batch
            batch, drafts = [], 0
    if batch:
        yield batch


def ingest(
    db: Database,
    ctx: Context,
    items: Iterable[ImportItem],
    *,
    strict: bool = False,
    protector: log.Protector | None = None,
    batch_size: int = 5000,
    on_batch: Callable[[IngestReport], None] | None = None,
    seen_tickets: set[str] | None = None,
) -> IngestReport:
    """Validate and append every good record; report every bad one. ``seen_tickets``, if
    given, collects the ticket ids of every good record (new or duplicate). The event types
    are those of ``db``'s composition (:func:`supportops.events.wiring.wiring`)."""
    ctx.require("admin", "agent", action="ingest events")
    report = IngestReport()
    outer: AbstractContextManager[Connection | None] = (
        db.begin(ctx.tenant_id) if strict else nullcontext()
    )
    with outer as shared:
        catalogue = wiring(db).catalogue
        for batch in _batches(items, batch_size, report, seen_tickets, catalogue):
            if shared is not None:
                _count(report, _append(shared, ctx, _drafts(batch), protector))
            else:
                _commit(db, ctx, batch, protector, report)
            if on_batch:
                on_batch(report)
        if strict and report.rejected:
            raise IngestError(
                f"--strict: {report.rejected} record(s) rejected, nothing was ingested "
                f"(first: record {report.errors[0].record}, field {report.errors[0].field!r}: "
                f"{report.errors[0].message}).",
                report=_refused(report),
            )
    return report


def _drafts(batch: list[Parsed]) -> list[EventDraft]:
    return [d for item in batch for d in item.drafts]


def _count(report: IngestReport, counts: tuple[int, int]) -> None:
    report.accepted += counts[0]
    report.duplicates += counts[1]


def _commit(db: Database, ctx: Context, batch: list[Parsed], protector: log.Protector | None,
            report: IngestReport) -> None:
    """Append a batch in its own transaction. If that fails for a reason other than a
    concurrent writer, each record is tried on its own: the one that fails is rejected with
    one line naming it, and every other record of the batch is kept."""
    saved = _Saved(_drafts(batch), protector)
    try:
        _count(report, _transaction(db, ctx, saved, protector))
        return
    except ConfigError:  # the installation, not a record (e.g. a missing extra): the file stops
        raise
    except Exception:  # narrowed below to the record(s) that cause it
        saved.restore(protector)
    for item in batch:
        one = _Saved(item.drafts, protector)
        try:
            _count(report, _transaction(db, ctx, one, protector))
        except ConfigError:
            raise
        except Exception as err:  # this record alone fails: reject it, keep the rest
            one.restore(protector)
            report.reject(RecordError(item.record, "record", unexpected(err)))


def _transaction(db: Database, ctx: Context, saved: _Saved,
                 protector: log.Protector | None) -> tuple[int, int]:
    """One transaction; a unique violation means another writer stored some of the same
    records first, so the batch is retried in a fresh transaction, where they are duplicates."""
    for attempt in range(1, CONCURRENT_RETRIES + 1):
        try:
            with db.begin(ctx.tenant_id) as conn:
                return _append(conn, ctx, saved.drafts, protector)
        except IntegrityError:
            if attempt == CONCURRENT_RETRIES:
                raise
            saved.restore(protector)
    raise AssertionError("unreachable")


class _Saved:
    """Drafts as they were before an attempt: the protector rewrites them in place and a
    rolled-back attempt must not leave them half pseudonymised (nor its caches stale)."""

    def __init__(self, drafts: list[EventDraft], protector: log.Protector | None) -> None:
        self.drafts = drafts
        self._copies = [(orjson.dumps(d.payload), d.subject) for d in drafts] if protector else []

    def restore(self, protector: log.Protector | None) -> None:
        for draft, (payload, subject) in zip(self.drafts, self._copies, strict=False):
            draft.payload = orjson.loads(payload)
            draft.subject = subject
        forget = getattr(protector, "forget", None)
        if callable(forget):
            forget()


def _refused(report: IngestReport) -> IngestReport:
    return IngestReport(accepted=0, duplicates=0, rejected=report.rejected, errors=report.errors,
                        errors_omitted=report.errors_omitted)


def _append(conn: Connection, ctx: Context, batch: list[EventDraft],
            protector: log.Protector | None) -> tuple[int, int]:
    stored, duplicates = log.append(conn, ctx, batch, protector)
    projection.project_all(conn, ctx, stored)
    return len(stored), duplicates
