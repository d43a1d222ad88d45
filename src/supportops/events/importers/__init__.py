"""Importers turn a file of some export format into a stream of records (drafts or errors).

Each importer is a function ``(path, on_read) -> Iterator[Parsed | RecordError]``; add a
format by adding one to ``IMPORTERS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from supportops.errors import ValidationFailed
from supportops.events.importers import native, process_logs, text_datasets, tickets_csv
from supportops.events.ingest import ImportItem

Importer = Callable[[Path, Callable[[int], None] | None], Iterator[ImportItem]]

IMPORTERS: dict[str, Importer] = {
    "jsonl": native.read_jsonl,
    "csv": tickets_csv.read_tickets_csv,
    "servicenow-incidents": process_logs.read_servicenow,
    "bpic2013": process_logs.read_bpic2013,
    "banking77": text_datasets.read_banking77,
    "bitext": text_datasets.read_bitext,
}


def importer_for(fmt: str) -> Importer:
    try:
        return IMPORTERS[fmt]
    except KeyError:
        raise ValidationFailed(
            f"The 'format' must be one of {', '.join(IMPORTERS)}. Got {fmt!r} instead."
        ) from None
