"""``supportops ingest``: stream a file into the log, with a progress bar on a terminal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from supportops.cli.common import (
    AsOpt,
    JsonOpt,
    TenantOpt,
    WorkspaceOpt,
    emit_json,
    one_line_errors,
    open_tenant,
)
from supportops.cli.output import show
from supportops.errors import IngestError
from supportops.events.importers import IMPORTERS

FORMATS = ", ".join(IMPORTERS)


def ingest_command(
    file: Annotated[Path, typer.Argument(help="Input file (gzip is read directly).")],
    tenant: TenantOpt,
    fmt: Annotated[str, typer.Option("--format", "-f", help=f"One of: {FORMATS}.")] = "jsonl",
    strict: Annotated[bool, typer.Option(help="All-or-nothing: any bad record refuses the file.")] = False,
    batch_size: Annotated[int, typer.Option(
        min=1, help="Records committed per transaction (an interrupted ingest keeps every "
                    "committed batch; run it again to go on).")] = 5000,
    workspace: WorkspaceOpt = None,
    acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest a file of tickets or events; bad records are named, good ones kept.

    Example: supportops ingest incident_event_log.csv.gz --format servicenow-incidents --tenant acme
    """
    handle = open_tenant(workspace, tenant, acting_as)
    on_terminal = sys.stderr.isatty()
    total = file.stat().st_size if file.exists() else None
    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), console=Console(stderr=True), disable=not on_terminal) as bar:
        task = bar.add_task(f"ingest {file.name}", total=total)
        try:
            with one_line_errors(f"Ingest of {str(file)!r}"):
                report = handle.ingest(file, fmt, strict=strict, batch_size=batch_size,
                                       on_read=lambda n: bar.advance(task, n))
        except IngestError as err:
            if as_json and err.report is not None:  # the refused file's report, then the error
                emit_json(err.report.as_dict())
            raise
    show(report.as_dict(), as_json, _counted)


def _counted(report: dict[str, Any]) -> list[str]:
    """The counts, then the first twenty records refused and why (all of them: --json)."""
    errors = report["errors"]
    more = [f"  ... and {report['rejected'] - 20} more (use --json for all)"
            ] if report["rejected"] > 20 else []
    return [f"accepted {report['accepted']}, duplicates {report['duplicates']}, rejected "
            f"{report['rejected']}",
            *(escape(f"  record {e['record']}, field {e['field']!r}: {e['message']}")
              for e in errors[:20]), *more]
