"""``supportops ingest``: stream a file into the log, with a progress bar on a terminal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
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
    show = sys.stderr.isatty()
    total = file.stat().st_size if file.exists() else None
    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), console=Console(stderr=True), disable=not show) as bar:
        task = bar.add_task(f"ingest {file.name}", total=total)
        try:
            with one_line_errors(f"Ingest of {str(file)!r}"):
                report = handle.ingest(file, fmt, strict=strict, batch_size=batch_size,
                                       on_read=lambda n: bar.advance(task, n))
        except IngestError as err:
            if as_json and err.report is not None:
                emit_json(err.report.as_dict())
            raise
    if as_json:
        emit_json(report.as_dict())
        return
    out = Console()
    out.print(f"accepted {report.accepted}, duplicates {report.duplicates}, "
              f"rejected {report.rejected}")
    for e in report.errors[:20]:
        out.print(f"  record {e.record}, field {e.field!r}: {e.message}", markup=False)
    if report.rejected > 20:
        out.print(f"  ... and {report.rejected - 20} more (use --json for all)")
