"""Generic helpdesk export: one CSV row per ticket.

Required columns: ``ticket_id``, ``customer_id``, ``created_at`` (ISO 8601), ``text``.
Optional: ``subject_line``, ``customer_name``, ``customer_email``, ``channel``, ``category``,
``priority``, ``group``, ``status``, ``resolved_at``, ``resolution``. Any other column is kept
as a ticket attribute. A row becomes ``ticket.created`` plus, when resolved, ``ticket.resolved``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from supportops.events.importers.common import FieldError, csv_records, guarded, parse_iso
from supportops.events.ingest import ImportItem, RecordError
from supportops.events.schemas import EventDraft

REQUIRED = ("ticket_id", "customer_id", "created_at", "text")
OPTIONAL = ("subject_line", "customer_name", "customer_email", "channel", "category",
            "priority", "group", "status", "resolved_at", "resolution")


def _row_drafts(row: dict[str, str]) -> list[EventDraft]:
    for column in ("ticket_id", "customer_id", "created_at", "text"):
        if not row[column].strip():
            raise FieldError(column, "required value is empty")
    ticket_id = row["ticket_id"].strip()
    created = parse_iso(row["created_at"], "created_at")
    value = {k: (row.get(k) or "").strip() or None for k in OPTIONAL}
    payload: dict[str, Any] = {"text": row["text"]}
    for key in ("subject_line", "channel", "category", "priority", "group"):
        if value[key]:
            payload[key] = value[key]
    if value["status"]:
        payload["status"] = value["status"]
    customer = {k: value[f"customer_{k}"] for k in ("name", "email") if value[f"customer_{k}"]}
    if customer:
        payload["customer"] = customer
    extra = {k: v for k, v in row.items() if k not in REQUIRED and k not in OPTIONAL and v != ""}
    if extra:
        payload["attributes"] = extra
    subject = row["customer_id"].strip()
    drafts = [EventDraft("ticket.created", created, payload, f"csv:{ticket_id}:created",
                         ticket_id=ticket_id, subject=subject)]
    if value["resolved_at"]:
        resolved = parse_iso(value["resolved_at"], "resolved_at")
        if resolved < created:
            raise FieldError("resolved_at", "is before created_at")
        body: dict[str, Any] = {"resolved_at": resolved.isoformat()}
        if value["resolution"]:
            body["resolution"] = row["resolution"]
        drafts.append(EventDraft("ticket.resolved", resolved, body, f"csv:{ticket_id}:resolved",
                                 ticket_id=ticket_id, subject=subject))
    elif value["resolution"]:
        drafts.append(EventDraft(
            "message.added", created,
            {"author": "agent", "visibility": "public", "text": row["resolution"]},
            f"csv:{ticket_id}:resolution", ticket_id=ticket_id, subject=subject))
    return drafts


def read_tickets_csv(
    path: Path, on_read: Callable[[int], None] | None = None
) -> Iterator[ImportItem]:
    for item in csv_records(path, on_read, required=REQUIRED):
        if isinstance(item, RecordError):
            yield item
            continue
        number, row = item
        yield guarded(number, partial(_row_drafts, row))
