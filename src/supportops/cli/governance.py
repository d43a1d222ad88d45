"""CLI commands of governance: ``audit verify|anchor|list`` and ``lineage``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from supportops.cli.common import AsOpt, JsonOpt, TenantOpt, WorkspaceOpt, emit_json, open_tenant

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
console = Console()


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    app.command("lineage")(lineage_command)


AnchorOpt = Annotated[Path | None, typer.Option(
    "--anchor", help="An anchor file written by 'audit anchor': also check that nothing was "
    "rolled back, truncated or wiped since.")]


@audit_app.command("verify")
def audit_verify(
    tenant: TenantOpt, anchor: AnchorOpt = None, workspace: WorkspaceOpt = None,
    acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Check the event log (chain, content hashes, gaps, redactions against audit entries),
    the keyed audit chain and, with --anchor, the anchored heads; exits 1 naming the first
    problem.

    Example: supportops audit verify --tenant acme --anchor acme-anchor.json
    """
    result = open_tenant(workspace, tenant, acting_as).audit.verify(anchor=anchor)
    if as_json:
        emit_json(result.as_dict())
    elif result.ok:
        held = f"; the anchor of {result.anchor['at']} holds" if result.anchor else ""
        console.print(f"Intact: event log {result.events['checked']} events "
                      f"(head #{result.events['head_seq']}, {result.events['redacted']} "
                      f"redacted), audit chain {result.checked} entries verified{held}.",
                      soft_wrap=True)
    else:
        where = f" at #{result.bad_seq}" if result.bad_seq is not None else ""
        console.print(f"BROKEN ({result.where}){where}: {result.problem}", soft_wrap=True)
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("anchor")
def audit_anchor(
    tenant: TenantOpt,
    out: Annotated[Path, typer.Option("--out", help="Where to write the signed statement; "
                                      "keep it outside the workspace.")],
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Verify, then write a signed statement of both heads (event log and audit chain).

    Example: supportops audit anchor --tenant acme --out /backup/acme-anchor.json
    """
    data = open_tenant(workspace, tenant, acting_as).audit.anchor(out)
    statement = data["statement"]
    if as_json:
        emit_json({**data, "out": str(out)})
        return
    console.print(f"Anchored tenant {statement['tenant']!r} at event #"
                  f"{statement['events']['seq']} and audit entry #{statement['audit']['seq']}"
                  f"; written to {out}.", soft_wrap=True)


@audit_app.command("list")
def audit_list(
    tenant: TenantOpt,
    actor: Annotated[str | None, typer.Option(help="Principal name or id.")] = None,
    action: Annotated[str | None, typer.Option(help="Action, or a prefix ending in '*'.")] = None,
    subject: Annotated[str | None, typer.Option(
        help="Subject: a token, a principal name, or a customer id.")] = None,
    since: Annotated[datetime | None, typer.Option(help="ISO time, inclusive.")] = None,
    until: Annotated[datetime | None, typer.Option(help="ISO time, inclusive.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100000)] = 1000,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """List audit entries, oldest first, filtered by actor, action, subject and time.

    Example: supportops audit list --tenant acme --action 'privacy.*' --since 2026-01-01
    """
    rows = open_tenant(workspace, tenant, acting_as).audit.list(
        actor=actor, action=action, subject=subject, since=since, until=until, limit=limit)
    if as_json:
        data = [e.as_dict() for e in rows]
        emit_json({"data": data, "count": len(data)})
        return
    table = Table("seq", "at", "actor", "role", "action", "subject")
    for e in rows:
        table.add_row(str(e.seq), e.at.isoformat(timespec="seconds"), e.actor, e.role,
                      e.action, e.subject or "")
    console.print(table)


def lineage_command(
    tenant: TenantOpt,
    subject: Annotated[str | None, typer.Option(help="Customer id (or its token).")] = None,
    snapshot: Annotated[str | None, typer.Option(help="Dataset snapshot id.")] = None,
    model: Annotated[str | None, typer.Option(help="NAME@VERSION.")] = None,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Trace data through snapshots, models and deployments (give exactly one of the three).

    Example: supportops lineage --subject CUST-42 --tenant acme --json
    """
    data = open_tenant(workspace, tenant, acting_as).lineage.of(
        subject=subject, snapshot=snapshot, model=model)
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        console.print(f"[bold]{key}[/]: {value}", soft_wrap=True)
