"""``supportops demo``: the main job of the moment on a fresh machine."""

from __future__ import annotations

import contextlib
import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from supportops.cli.common import JsonOpt, WorkspaceOpt, emit_json
from supportops.cli.wiring import install
from supportops.demo import generate
from supportops.errors import AlreadyExists
from supportops.workspace import Workspace


def demo_command(
    file: Annotated[Path | None, typer.Option(help="Ingest this file instead of generated data.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="Format of --file.")] = "csv",
    tenant: Annotated[str, typer.Option("--tenant", "-t")] = "demo",
    tickets: Annotated[int, typer.Option(min=1, max=200000, help="Generated tickets.")] = 600,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a workspace, ingest a realistic generated workload (or --file), summarise it.

    Example: supportops demo --tickets 1000
    """
    ws = Workspace.init(workspace)
    install(ws)
    with contextlib.suppress(AlreadyExists):
        ws.create_tenant(tenant, "Demo tenant")
    handle = ws.tenant(tenant)
    with tempfile.TemporaryDirectory() as tmp:  # generated PII never lands in the workspace
        source = file or generate(Path(tmp) / "demo-events.jsonl", tickets=tickets)
        report = handle.ingest(source, fmt if file else "jsonl")
    rows = handle.tickets.all_rows()
    summary: dict[str, Any] = {
        "workspace": str(ws.path), "tenant": tenant, "ingest": report.as_dict(),
        "events": handle.events_count(), "tickets": len(rows),
        "by_status": dict(Counter(r["status"] for r in rows).most_common()),
        "by_group": dict(Counter(r["group"] for r in rows).most_common()),
        "reassigned": sum(1 for r in rows if r["reassignment_count"]),
        "reopened": sum(1 for r in rows if r["reopen_count"]),
    }
    if as_json:
        emit_json(summary)
        return
    out = Console()
    out.print(f"Workspace [bold]{ws.path}[/], tenant [bold]{tenant}[/]: "
              f"accepted {report.accepted} events ({report.duplicates} duplicates, "
              f"{report.rejected} rejected); {len(rows)} tickets.")
    table = Table("group", "tickets")
    for group, n in summary["by_group"].items():
        table.add_row(str(group), str(n))
    out.print(table)
    out.print("by status: " + ", ".join(f"{k}={v}" for k, v in summary["by_status"].items()))
    out.print(f"reassigned: {summary['reassigned']}, reopened: {summary['reopened']}")
    out.print(f"Next: supportops tickets list --tenant {tenant} --workspace {ws.path}")
