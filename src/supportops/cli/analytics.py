"""CLI commands of the analytics room (registered on the main app by ``register``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from supportops.cli.common import AsOpt, JsonOpt, TenantOpt, WorkspaceOpt, open_tenant
from supportops.cli.output import show, show_list, table

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
    show(data, as_json, _summary)


def _fmt(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, float) else "-" if value is None else str(value)


def _summary(data: dict[str, Any]) -> list[str | Table]:
    """Headline counts, then resolution hours overall and per priority as one table."""
    res = data["resolution_hours"]
    hours = table(("priority", "tickets", "median h", "p90 h", "mean h"), (
        (name, s["count"], _fmt(s["median"]), _fmt(s["p90"]), _fmt(s["mean"]))
        for name, s in [("all", res["overall"]), *res["by_priority"].items()]),
        title="Resolution hours")
    charts = [f"charts written: {len(data['charts'])}"] if "charts" in data else []
    return [f"tickets {data['tickets']}, resolved {data['resolved']}, reopen rate "
            f"{_fmt(data['reopen_rate'])}", hours, *charts]


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
    show(data, as_json, lambda r: table(
        ("cluster", "size", "name", "emerging"),
        ((c["cluster"], c["size"], c["name"], "yes" if c["emerging"] else "")
         for c in r["clusters"])))


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
    show(target.__dict__, as_json, lambda r: f"SLA target for {priority!r} set.")


@sla_app.command("list")
def sla_list(
    tenant: TenantOpt, workspace: WorkspaceOpt = None, acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the tenant's SLA targets.

    Example: supportops analytics sla list --tenant acme --json
    """
    rows = [t.__dict__ for t in open_tenant(workspace, tenant, acting_as).analytics.sla_targets()]
    show_list(rows, as_json, lambda r: table(
        ("priority", "first response h", "resolution h"),
        ((t["priority"], t["first_response_hours"], t["resolution_hours"]) for t in r)))


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
    show({"removed": removed}, as_json,
         lambda r: "removed" if removed else f"no target for {priority!r}")


def register(app: typer.Typer) -> None:
    """Add this room's commands to the main app."""
    app.add_typer(analytics_app, name="analytics")
