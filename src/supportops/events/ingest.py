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

from pydantic import ValidationError
from sqlalchemy import Connection

from supportops.errors import IngestError
from supportops.events import log, projection
from supportops.events.schemas import EVENT_TYPES, TICKET_TYPES, EventDraft, validate_payload
from supportops.governance.context import Context
from supportops.storage import Database

MAX_ERRORS_KEPT = 10_000


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


def validate_draft(record: int, draft: EventDraft) -> RecordError | None:
    """Validate a draft in place (payload normalised); return the error if it is bad."""
    if draft.type not in EVENT_TYPES:
        known = ", ".join(sorted(EVENT_TYPES))
        return RecordError(record, "type", f"unknown event type {draft.type!r}; known: {known}")
    if draft.type in TICKET_TYPES and not draft.ticket_id:
        return RecordError(record, "ticket_id", f"a {draft.type!r} event needs a ticket_id")
    if draft.occurred_at.tzinfo is None:
        return RecordError(record, "occurred_at", "timestamp needs a time zone (or 'Z')")
    try:
        draft.payload = validate_payload(draft.type, draft.payload, draft.canonical)
    except ValidationError as err:
        where, msg = _loc(err)
        return RecordError(record, where, msg)
    return None


def validated(items: Iterable[ImportItem]) -> Iterator[ImportItem]:
    """Records with their drafts validated; a record with a bad draft becomes its error."""
    for item in items:
        if isinstance(item, Parsed) and not item.validated:
            problems = [e for d in item.drafts if (e := validate_draft(item.record, d))]
            if problems:
                yield problems[0]
                continue
            item.validated = True
        yield item


def _batches(
    items: Iterable[ImportItem], size: int, report: IngestReport, seen: set[str] | None
) -> Iterator[list[EventDraft]]:
    batch: list[EventDraft] = []
    for item in validated(items):
        if isinstance(item, RecordError):
            report.reject(item)
            continue
        batch.extend(item.drafts)
        if seen is not None:
            seen.update(d.ticket_id for d in item.drafts if d.ticket_id)
        if len(batch) >= size:
            yield batch
            batch = []
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
    given, collects the ticket ids of every good record (new or duplicate)."""
    ctx.require("admin", "agent", action="ingest events")
    report = IngestReport()
    outer: AbstractContextManager[Connection | None] = (
        db.begin(ctx.tenant_id) if strict else nullcontext()
    )
    with outer as shared:
        for batch in _batches(items, batch_size, report, seen_tickets):
            if shared is not None:
                _append(shared, ctx, batch, protector, report)
            else:
                with db.begin(ctx.tenant_id) as conn:
                    _append(conn, ctx, batch, protector, report)
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


def _refused(report: IngestReport) -> IngestReport:
    return IngestReport(accepted=0, duplicates=0, rejected=report.rejected, errors=report.errors,
                        errors_omitted=report.errors_omitted)


def _append(conn: Connection, ctx: Context, batch: list[EventDraft],
            protector: log.Protector | None, report: IngestReport) -> None:
    stored, duplicates = log.append(conn, ctx, batch, protector)
    projection.project(conn, ctx, stored)
    report.accepted += len(stored)
    report.duplicates += duplicates
