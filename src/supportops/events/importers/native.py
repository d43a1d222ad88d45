"""Native JSON Lines: one event per line.

``{"type": "ticket.created", "ticket_id": "T-1", "subject": "cust-9",
"occurred_at": "2024-05-01T10:00:00Z", "payload": {...}, "idempotency_key": "..."}``.
Without an ``idempotency_key`` (or ``id``), the key is a digest of the line's content, so
re-ingesting the same file is a no-op.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from supportops.events.importers.common import FieldError, guarded, parse_iso
from supportops.events.ingest import ImportItem, RecordError
from supportops.events.limits import payload_problem
from supportops.events.reader import CORRUPT_INPUT, open_binary
from supportops.events.schemas import EventDraft

_OPTIONAL_TEXT = ("ticket_id", "subject", "idempotency_key", "id")


def _text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise FieldError(key, f"must be a non-empty string, got {value!r}")
    return value


def draft_from_object(obj: Any, raw: bytes) -> EventDraft:
    """Build a draft from one decoded JSON object; raises FieldError naming the field."""
    if not isinstance(obj, dict):
        raise FieldError("record", "a line must be a JSON object")
    kind = obj.get("type")
    if not isinstance(kind, str) or not kind:
        raise FieldError("type", "missing or not a string")
    when = obj.get("occurred_at")
    if not isinstance(when, str):
        raise FieldError("occurred_at", "missing or not an ISO 8601 string")
    occurred: datetime = parse_iso(when, "occurred_at")
    payload = obj.get("payload", {})
    if not isinstance(payload, dict):
        raise FieldError("payload", "must be a JSON object")
    problem = payload_problem(payload)  # before anything walks it (deep nesting)
    if problem is not None:
        raise FieldError(*problem)
    unknown = set(obj) - {"type", "occurred_at", "payload", *_OPTIONAL_TEXT}
    if unknown:
        raise FieldError(sorted(unknown)[0], "unknown top-level field")
    texts = {k: _text(obj, k) for k in _OPTIONAL_TEXT}
    key = texts["idempotency_key"] or (f"id:{texts['id']}" if texts["id"] else None)
    if key is None:
        canonical = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        key = "jsonl:" + hashlib.sha256(canonical).hexdigest()[:40]
    return EventDraft(type=kind, occurred_at=occurred, payload=payload, idempotency_key=key,
                      ticket_id=texts["ticket_id"], subject=texts["subject"], id=None)


def read_jsonl(path: Path, on_read: Callable[[int], None] | None = None) -> Iterator[ImportItem]:
    with open_binary(path, on_read) as handle:
        number = 0
        try:
            for number, raw in enumerate(handle, start=1):
                yield from _line(number, raw)
        except CORRUPT_INPUT as err:
            yield RecordError(number + 1, "record", f"input is truncated or corrupt: {err}")


def _line(number: int, raw: bytes) -> Iterator[ImportItem]:
    if not raw.strip():
        return
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            yield RecordError(number, "record", "not valid UTF-8 text")
            return
        yield RecordError(number, "record", f"malformed JSON: {err}")
        return
    yield guarded(number, lambda: [draft_from_object(obj, raw)])


def items_from_objects(objects: list[Any]) -> Iterator[ImportItem]:
    """Decoded event objects (an API request's body) as records numbered from 1."""
    for number, obj in enumerate(objects, start=1):
        yield guarded(number, partial(_drafts, obj))


def _drafts(obj: Any) -> list[EventDraft]:
    return [draft_from_object(obj, b"")]
