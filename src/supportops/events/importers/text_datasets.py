"""Labelled text data sets used as ticket streams: Banking77 and Bitext customer support.

Neither has ticket ids or timestamps; ids come from content (Banking77) or ``row_id``
(Bitext), and events are stamped with the time of ingestion.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from supportops.events.importers.common import csv_records, key_of
from supportops.events.ingest import ImportItem, Parsed, RecordError
from supportops.events.schemas import EventDraft


def read_banking77(path: Path, on_read: Callable[[int], None] | None = None) -> Iterator[ImportItem]:
    """``text,category``: one customer query and its intent per row."""
    now = datetime.now(UTC)
    seen: Counter[str] = Counter()
    for item in csv_records(path, on_read, required=("text", "category")):
        if isinstance(item, RecordError):
            yield item
            continue
        number, row = item
        text, category = row["text"], row["category"].strip()
        if not text.strip():
            yield RecordError(number, "text", "required value is empty")
            continue
        if not category:
            yield RecordError(number, "category", "required value is empty")
            continue
        digest = key_of(text, category)
        seen[digest] += 1
        ticket_id = f"b77-{digest[:16]}-{seen[digest]}"
        payload = {"text": text, "category": category, "channel": "chat"}
        yield Parsed(number, [EventDraft("ticket.created", now, payload,
                                         f"banking77:{ticket_id}", ticket_id=ticket_id)])


def read_bitext(path: Path, on_read: Callable[[int], None] | None = None) -> Iterator[ImportItem]:
    """Bitext customer-support Q&A: the request, its intent, and the agent's response."""
    now = datetime.now(UTC)
    for item in csv_records(path, on_read, required=("instruction", "intent", "response")):
        if isinstance(item, RecordError):
            yield item
            continue
        number, row = item
        if not row["instruction"].strip():
            yield RecordError(number, "instruction", "required value is empty")
            continue
        if not row["intent"].strip():
            yield RecordError(number, "intent", "required value is empty")
            continue
        row_id = (row.get("row_id") or "").strip() or key_of(row["instruction"], row["intent"])
        ticket_id = f"bitext-{row_id}"
        created = {
            "text": row["instruction"], "category": row["intent"].strip(), "channel": "chat",
            "attributes": {"category_group": row.get("category"), "tags": row.get("tags")},
        }
        resolved = {"resolution": row["response"]}
        yield Parsed(number, [
            EventDraft("ticket.created", now, created, f"bitext:{ticket_id}:created",
                       ticket_id=ticket_id),
            EventDraft("ticket.resolved", now, resolved, f"bitext:{ticket_id}:resolved",
                       ticket_id=ticket_id),
        ])
