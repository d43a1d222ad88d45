"""Importers turn a file of some export format into a stream of records (drafts or errors).

Each importer is a function ``(path, on_read) -> Iterator[Parsed | RecordError]``; add a
format by adding one to ``IMPORTERS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from supportops.errors import IngestError, SupportopsError, ValidationFailed
from supportops.events.importers import native, process_logs, text_datasets, tickets_csv
from supportops.events.ingest import ImportItem, RecordError, unexpected

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
    """The format's importer, wrapped so that no input can end in a traceback."""
    try:
        read = IMPORTERS[fmt]
    except KeyError:
        raise ValidationFailed(
            f"The 'format' must be one of {', '.join(IMPORTERS)}. Got {fmt!r} instead."
        ) from None
    return partial(_checked, read)


def _checked(read: Importer, path: Path,
             on_read: Callable[[int], None] | None = None) -> Iterator[ImportItem]:
    """An empty file is refused (success would hide a wrong path or a failed export), and an
    unexpected failure of the reader ends the file with one line naming where it stopped:
    the good records before it are kept."""
    last, seen = 0, False
    try:
        for item in read(path, on_read):
            last, seen = item.record, True
            yield item
    except SupportopsError:
        raise
    except Exception as err:  # the reader itself failed: name where, keep what came before
        yield RecordError(last + 1, "record", f"reading stopped here: {unexpected(err)}")
        return
    if not seen:
        raise IngestError(f"Input file {str(path)!r} holds no records (it is empty, or has "
                          "a header only). Nothing was ingested; check the path and the export.")
