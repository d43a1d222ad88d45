"""Shared parsing helpers for importers: CSV rows with per-record errors, timestamps, keys."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from supportops.errors import IngestError
from supportops.events.ingest import ImportItem, Parsed, RecordError, unexpected
from supportops.events.reader import CORRUPT_INPUT, has_bad_bytes, open_text
from supportops.events.schemas import EventDraft

csv.field_size_limit(1 << 26)


class FieldError(ValueError):
    """A field of the current record is bad; the importer turns it into a RecordError."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def guarded(number: int, build: Callable[[], list[EventDraft]]) -> ImportItem:
    """One record's drafts, or its error: a bad field is named, and an unexpected failure
    rejects this record alone (one line, never a traceback) so the file goes on."""
    try:
        return Parsed(number, build())
    except FieldError as err:
        return RecordError(number, err.field, err.message)
    except Exception as err:  # a surprise in one record must not sink its file
        return RecordError(number, "record", unexpected(err))


def csv_records(
    path: Path,
    on_read: Callable[[int], None] | None,
    required: Sequence[str] = (),
    escapechar: str | None = None,
) -> Iterator[tuple[int, dict[str, str]] | RecordError]:
    """Rows as dicts keyed by header, numbered from 1; malformed rows become errors. A header
    that names a column twice refuses the file (one of the two would be silently lost)."""
    with open_text(path, on_read) as handle:
        lines = _Lines(handle)
        reader = csv.reader(lines, escapechar=escapechar)
        try:
            header = next(reader, None)
        except (csv.Error, *CORRUPT_INPUT) as err:
            yield RecordError(0, "record", f"cannot read the header: {err}")
            return
        if header is None:
            return
        header = [h.strip() for h in header]
        _refuse_duplicates(path, header)
        missing = [c for c in required if c not in header]
        if missing:
            yield RecordError(0, missing[0],
                              f"header lacks required column(s) {', '.join(missing)}; "
                              f"found: {', '.join(header)}")
            return
        yield from _rows(reader, lines, header, escapechar)


def _refuse_duplicates(path: Path, header: list[str]) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name in seen:
            raise IngestError(
                f"The header of {str(path)!r} names the column {name!r} twice (columns "
                f"{seen[name]} and {position}); rename or drop one. Nothing was ingested.")
        seen[name] = position


class _Lines:
    """Physical lines for the csv reader, remembering those of the record being read so that
    a malformed record can be given back but for its first line: an unterminated quote then
    costs its own line only, and parsing resumes on the next one."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self._back: list[str] = []
        self.taken: list[str] = []
        self.exhausted = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._back.pop() if self._back else self._handle.readline()
        if not line:
            self.exhausted = True
            raise StopIteration
        self.taken.append(line)
        return line

    def start_record(self) -> None:
        self.taken = []

    def give_back_all_but_first(self) -> None:
        self._back.extend(reversed(self.taken[1:]))
        self.exhausted = False


def _sound(lines: _Lines, row: list[str], width: int, escapechar: str | None) -> bool:
    """A record spanning several lines is a quoted field with line breaks only if it has the
    header's width, closes its quotes before the input ends, and parses strictly (an
    unterminated quote that some later quote happens to close leaves text after it)."""
    if len(row) != width:
        return False
    if lines.exhausted and _unterminated(lines.taken, escapechar):
        return False
    try:
        return len(list(csv.reader(lines.taken, strict=True, escapechar=escapechar))) == 1
    except csv.Error:
        return False


def _unterminated(lines: list[str], escapechar: str | None) -> bool:
    """The record ran to the end of the input inside a quoted field."""
    text = "".join(lines)
    if escapechar:
        text = text.replace(escapechar + '"', "")
    return text.count('"') % 2 == 1


def _rows(reader: Any, lines: _Lines, header: list[str],
          escapechar: str | None) -> Iterator[tuple[int, dict[str, str]] | RecordError]:
    """Data rows; a row the csv module cannot parse, or a corrupt stream, becomes an error."""
    width = len(header)
    number = 0
    while True:
        number += 1
        lines.start_record()
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield _malformed(number, lines, f"malformed CSV: {err}")
            continue
        except CORRUPT_INPUT as err:
            yield RecordError(number, "record", f"input is truncated or corrupt: {err}")
            return
        if (len(lines.taken) > 1 or lines.exhausted) and not _sound(lines, row, width, escapechar):
            yield _malformed(number, lines, "unterminated quoted field: this line is rejected "
                                            "and parsing resumes on the next one")
            continue
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


def _malformed(number: int, lines: _Lines, message: str) -> RecordError:
    """Reject the record's first line; the lines it swallowed are read again."""
    lines.give_back_all_but_first()
    return RecordError(number, "record", message)


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
