"""CLI commands of the analytics room (registered on the main app by ``register``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from supportops.cli.common import AsOpt, JsonOpt, TenantOpt, WorkspaceOpt, emit_json, open_tenant

PeriodOpt = Annotated[str, typer.Option("--period", help="day, week or month.")]
FromOpt = Annotated[str | None, typer.Option("--from", help="Tickets opened on/after (ISO date).")]
ToOpt = Annotated[str | None, typer.Option("--to", help="Tickets opened before (ISO date).")]

analytics_app = typer.Typer(
    help="Support metrics, process view, root-cause clusters.\n\n"
         "Example: supportops analytics report --tenant acme --json",
    no_args_is_help=True)
sla_app = typer.Typer(
    help="Per-priority SLA targets of a tenant.\n\n"
         "Example: supportops analytics sla set '1 - Critical' --resolution-hours 4 --tenant acme",
    no_args_is_help=True)
analytics_app.add_typer(sla_app, name="sla")
console = Console()


def _split(by: list[str] | None) -> list[str]:
    return [part.strip() for item in by or [] for part in item.split(",") if part.strip()]


@analytics_app.command("report")
def report_command(
    tenant: TenantOpt,
    start: FromOpt = None,
    end: ToOpt = None,
    by: Annotated[list[str] | None, typer.Option(
        "--by", help="Break down by priority, category, group, channel or agent "
                     "(repeat or comma-separate).")] = None,
    period: PeriodOpt = "week",
    top: Annotated[int, typer.Option(min=1, max=1000, help="Rows in top lists.")] = 10,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write charts (PNG) and report.html into this folder.")] = None,
    workspace: WorkspaceOpt = None,
    acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Resolution and response times, SLA, backlog, reassignments, ping-pong, process paths.

    Example: supportops analytics report --tenant acme --by group --period month --json
    """
    data = open_tenant(workspace, tenant, acting_as).analytics.report(
        start=start, end=end, period=period, by=_split(by), top=top)
    if out is not None:
        from supportops.analytics.charts import write_charts

        data["charts"] = [str(p) for p in write_charts(data, out)]
    if as_json:
        emit_json(data)
        return
    _print_summary(data)


def _fmt(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _print_summary(data: dict[str, object]) -> None:
    res = data["resolution_hours"]
    assert isinstance(res, dict)
    console.print(f"tickets {data['tickets']}, resolved {data['resolved']}, "
                  f"reopen rate {_fmt(data['reopen_rate'])}")
    overall = res["overall"]
    console.print(f"resolution hours: median {_fmt(overall['median'])}, "
                  f"p90 {_fmt(overall['p90'])}, mean {_fmt(overall['mean'])}")
    for name, stats in res["by_priority"].items():
        console.print(f"  {name}: n={stats['count']} median {_fmt(stats['median'])} "
                      f"p90 {_fmt(stats['p90'])}")
    if "charts" in data:
        console.print(f"charts written: {len(data['charts'])}")  # type: ignore[arg-type]


@analytics_app.command("clusters")
def clusters_command(
    tenant: TenantOpt,
    start: FromOpt = None,
    end: ToOpt = None,
    method: Annotated[str, typer.Option(help="kmeans or hdbscan.")] = "kmeans",
    k: Annotated[int | None, typer.Option(
        "--k", min=2, help="Clusters for k-means [default: sqrt(n/2)].")] = None,
    period: PeriodOpt = "week",
    top: Annotated[int, typer.Option(min=1, max=1000, help="Clusters to list.")] = 20,
    workspace: WorkspaceOpt = None,
    acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Root-cause clusters of ticket texts: named by distinctive terms, with trend and
    emerging flags.

    Example: supportops analytics clusters --tenant acme --method kmeans --k 40 --json
    """
    data = open_tenant(workspace, tenant, acting_as).analytics.clusters(
        start=start, end=end, method=method, k=k, period=period, top=top)
    if as_json:
        emit_json(data)
        return
    for c in data["clusters"]:
        flag = " [emerging]" if c["emerging"] else ""
        console.print(f"#{c['cluster']} {c['size']:>5}  {c['name']}{flag}")


@sla_app.command("set")
def sla_set(
    priority: Annotated[str, typer.Argument(help="Priority name, e.g. '1 - Critical'.")],
    tenant: TenantOpt,
    resolution_hours: Annotated[float | None, typer.Option(
        "--resolution-hours", help="Hours from opening to resolution.")] = None,
    first_response_hours: Annotated[float | None, typer.Option(
        "--first-response-hours", help="Hours from opening to the first agent reply.")] = None,
    workspace: WorkspaceOpt = None,
    acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set (or replace) the SLA target of one priority.

    Example: supportops analytics sla set "1 - Critical" --resolution-hours 4 --tenant acme
    """
    target = open_tenant(workspace, tenant, acting_as).analytics.set_sla_target(
        priority, first_response_hours=first_response_hours, resolution_hours=resolution_hours)
    if as_json:
        emit_json(target.__dict__)
    else:
        console.print(f"SLA target for {priority!r} set.")


@sla_app.command("list")
def sla_list(
    tenant: TenantOpt, workspace: WorkspaceOpt = None, acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the tenant's SLA targets.

    Example: supportops analytics sla list --tenant acme --json
    """
    rows = [t.__dict__ for t in open_tenant(workspace, tenant, acting_as).analytics.sla_targets()]
    if as_json:
        emit_json({"data": rows, "count": len(rows)})
        return
    for r in rows:
        console.print(f"{r['priority']}: first response {r['first_response_hours']} h, "
                      f"resolution {r['resolution_hours']} h")


@sla_app.command("remove")
def sla_remove(
    priority: Annotated[str, typer.Argument(help="Priority name.")],
    tenant: TenantOpt, workspace: WorkspaceOpt = None, acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove the SLA target of one priority.

    Example: supportops analytics sla remove "4 - Low" --tenant acme
    """
    removed = open_tenant(workspace, tenant, acting_as).analytics.remove_sla_target(priority)
    if as_json:
        emit_json({"removed": removed})
    else:
        console.print("removed" if removed else f"no target for {priority!r}")


def register(app: typer.Typer) -> None:
    """Add this room's commands to the main app."""
    app.add_typer(analytics_app, name="analytics")
