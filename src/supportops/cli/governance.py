"""CLI commands of governance: ``audit verify|anchor|list`` and ``lineage``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from supportops.cli.common import AsOpt, JsonOpt, TenantOpt, WorkspaceOpt, open_tenant
from supportops.cli.output import fields, show, show_list, table

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


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
    show(result.as_dict(), as_json, _verdict)
    if not result.ok:
        raise typer.Exit(1)


def _verdict(r: dict[str, Any]) -> str:
    """Intact (what was checked), or BROKEN naming the first problem and where it is."""
    if not r["ok"]:
        where = f" at #{r['bad_seq']}" if r["bad_seq"] is not None else ""
        return f"BROKEN ({r['where']}){where}: {r['problem']}"
    held = f"; the anchor of {r['anchor']['at']} holds" if r["anchor"] else ""
    ev = r["events"]
    return (f"Intact: event log {ev['checked']} events (head #{ev['head_seq']}, "
            f"{ev['redacted']} redacted), audit chain {r['checked']} entries verified{held}.")


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
    show({**data, "out": str(out)}, as_json, _anchored)


def _anchored(r: dict[str, Any]) -> str:
    said = r["statement"]
    return (f"Anchored tenant {said['tenant']!r} at event #{said['events']['seq']} and audit "
            f"entry #{said['audit']['seq']}; written to {r['out']}.")


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
    data = [e.as_dict() for e in rows]
    show_list(data, as_json, lambda r: table(
        ("seq", "at", "actor", "role", "action", "subject"),
        ((e.seq, e.at.isoformat(timespec="seconds"), e.actor, e.role, e.action, e.subject)
         for e in rows)))


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
    show(data, as_json, fields)
