"""Shared parsing helpers for importers: CSV rows with per-record errors, timestamps, keys."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from supportops.events.ingest import RecordError
from supportops.events.reader import CORRUPT_INPUT, has_bad_bytes, open_text

csv.field_size_limit(1 << 26)


class FieldError(ValueError):
    """A field of the current record is bad; the importer turns it into a RecordError."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def csv_records(
    path: Path,
    on_read: Callable[[int], None] | None,
    required: Sequence[str] = (),
    escapechar: str | None = None,
) -> Iterator[tuple[int, dict[str, str]] | RecordError]:
    """Rows as dicts keyed by header, numbered from 1; malformed rows become errors."""
    with open_text(path, on_read) as handle:
        reader = csv.reader(handle, escapechar=escapechar)
        try:
            header = next(reader, None)
        except (csv.Error, *CORRUPT_INPUT) as err:
            yield RecordError(0, "record", f"cannot read the header: {err}")
            return
        if header is None:
            return
        header = [h.strip() for h in header]
        missing = [c for c in required if c not in header]
        if missing:
            yield RecordError(0, missing[0],
                              f"header lacks required column(s) {', '.join(missing)}; "
                              f"found: {', '.join(header)}")
            return
        yield from _rows(reader, header)


def _rows(reader: Any, header: list[str]) -> Iterator[tuple[int, dict[str, str]] | RecordError]:
    """Data rows; a row the csv module cannot parse, or a corrupt stream, becomes an error."""
    width = len(header)
    number = 0
    while True:
        number += 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield RecordError(number, "record", f"malformed CSV: {err}")
            continue
        except CORRUPT_INPUT as err:
            yield RecordError(number, "record", f"input is truncated or corrupt: {err}")
            return
        if len(row) != width:
            if not any(cell.strip() for cell in row):
                continue
            yield RecordError(number, "record", f"expected {width} fields, got {len(row)}")
            continue
        if has_bad_bytes("".join(row)):
            bad = next(h for h, v in zip(header, row, strict=True) if has_bad_bytes(v))
            yield RecordError(number, bad, "not valid UTF-8 text")
            continue
        yield number, dict(zip(header, row, strict=True))


def parse_iso(value: str, field: str) -> datetime:
    """ISO 8601; a value without a zone is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise FieldError(field, f"not an ISO 8601 timestamp: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


@lru_cache(maxsize=65536)
def parse_dayfirst(value: str) -> datetime:
    """ServiceNow's ``D/M/YYYY HH:MM`` (day first, no padding), taken as UTC."""
    date_part, _, time_part = value.strip().partition(" ")
    day, month, year = date_part.split("/")
    hour, minute = (time_part or "0:0").split(":")[:2]
    return datetime(int(year), int(month), int(day), int(hour), int(minute), tzinfo=UTC)


def key_of(*parts: str) -> str:
    """A short content key for records that carry no id of their own."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
