"""``supportops demo``: the main job of the moment on a fresh machine."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from supportops.cli.common import JsonOpt, WorkspaceOpt, emit_json, open_tenant
from supportops.errors import ConfigError
from supportops.workspace import Tenant


def _generate(path: Path, tickets: int) -> Path:
    """The generated workload; Faker, which makes its people up, is the ``demo`` extra."""
    try:
        from supportops.demo import generate
    except ModuleNotFoundError as err:
        if err.name != "faker":
            raise
        raise ConfigError("The generated demo workload needs Faker: pip install "
                          "'supportops[demo]', or pass --file.") from None
    return generate(path, tickets=tickets)


def _analytics(handle: Tenant) -> dict[str, Any]:
    """A few headline figures of the analytics report."""
    report = handle.report(period="week")
    overall = report["resolution_hours"]["overall"]
    return {"resolution_median_h": _round(overall["median"], 1),
            "resolution_p90_h": _round(overall["p90"], 1),
            "reopen_rate": _round(report["reopen_rate"], 3),
            "first_contact_resolution": _round(report["first_contact_resolution"]["rate"], 3),
            "ping_pong_tickets": report["ping_pong"]["tickets"]}


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _stored_text(handle: Tenant) -> str | None:
    """The first ticket text as the log holds it: tokens where personal data was."""
    for event in handle.events_tail(200, "ticket.created"):
        text = event.payload.get("text")
        if isinstance(text, str) and "<" in text:
            return text
    return None


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
    handle = open_tenant(workspace, tenant, create=True, name="Demo tenant")
    ws = handle.workspace
    with tempfile.TemporaryDirectory() as tmp:  # generated PII never lands in the workspace
        source = file or _generate(Path(tmp) / "demo-events.jsonl", tickets)
        report = handle.ingest(source, fmt if file else "jsonl")
    rows = handle.tickets.all_rows()
    summary: dict[str, Any] = {
        "workspace": str(ws.path), "tenant": tenant, "ingest": report.as_dict(),
        "events": handle.events_count(), "tickets": len(rows),
        "by_status": dict(Counter(r["status"] for r in rows).most_common()),
        "by_group": dict(Counter(r["group"] for r in rows).most_common()),
        "reassigned": sum(1 for r in rows if r["reassignment_count"]),
        "reopened": sum(1 for r in rows if r["reopen_count"]),
        "analytics": _analytics(handle),
        "stored_text_example": _stored_text(handle),
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
    stats = summary["analytics"]
    out.print(f"resolution hours: median {stats['resolution_median_h']}, p90 "
              f"{stats['resolution_p90_h']}; reopen rate {stats['reopen_rate']}; first-contact "
              f"resolution {stats['first_contact_resolution']}; ping-pong tickets "
              f"{stats['ping_pong_tickets']}")
    out.print("As stored (pseudonymised at ingestion): " + repr(summary["stored_text_example"]))
    out.print(f"Next: supportops analytics report --tenant {tenant} --workspace {ws.path} "
              f"--out charts/")
