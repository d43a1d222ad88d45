"""``supportops``: every command is a thin call into the library; errors become one line."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from supportops.cli import analytics as analytics_cli
from supportops.cli import assist as assist_cli
from supportops.cli import dpo as dpo_cli
from supportops.cli import ml as ml_cli
from supportops.cli import monitor as monitor_cli
from supportops.cli import privacy as privacy_cli
from supportops.cli import server as server_cli
from supportops.cli.common import (
    AsOpt,
    JsonOpt,
    TenantOpt,
    WorkspaceOpt,
    open_tenant,
    open_workspace,
)
from supportops.cli.demo import demo_command
from supportops.cli.ingest import ingest_command
from supportops.cli.output import fields, show, show_list, table
from supportops.errors import SupportopsError
from supportops.workspace import Workspace

app = typer.Typer(
    name="supportops",
    help="ML for customer-support operations on a governed, privacy-first event log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
tenants_app = typer.Typer(help="Create and list tenants.", no_args_is_help=True)
principals_app = typer.Typer(help="People and API keys of a tenant.", no_args_is_help=True)
tickets_app = typer.Typer(help="Read the current ticket state.", no_args_is_help=True)
events_app = typer.Typer(help="Read the event log.", no_args_is_help=True)
app.add_typer(tenants_app, name="tenants")
app.add_typer(principals_app, name="principals")
app.add_typer(tickets_app, name="tickets")
app.add_typer(events_app, name="events")
app.command("ingest")(ingest_command)
app.command("demo")(demo_command)
privacy_cli.register(app)
analytics_cli.register(app)
ml_cli.register(app)
monitor_cli.register(app)
dpo_cli.register(app)
assist_cli.register(app)
server_cli.register(app)


@app.command()
def init(
    workspace: WorkspaceOpt = None,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", envvar="SUPPORTOPS_DATABASE_URL",
        help="PostgreSQL URL instead of the embedded SQLite.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a workspace (or upgrade its schema).

    Example: supportops init --workspace ./supportops-workspace
    """
    where = Workspace.init(workspace, database_url).describe()
    show(where, as_json, lambda w: f"Workspace ready at [bold]{w['workspace']}[/] ({w['backend']}).")


@tenants_app.command("create")
def tenants_create(
    tenant_id: Annotated[str, typer.Argument(help="Short id: a-z, 0-9, '-', '_'.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a tenant.

    Example: supportops tenants create acme --name "Acme Corp"
    """
    info = open_workspace(workspace).create_tenant(tenant_id, name)
    show({"id": info.id, "name": info.name, "created_at": info.created_at}, as_json,
         lambda t: f"Tenant [bold]{t['id']}[/] created.")


@tenants_app.command("list")
def tenants_list(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """List tenants with their event counts.

    Example: supportops tenants list --json
    """
    rows = open_workspace(workspace).tenants()
    data = [{"id": t.id, "name": t.name, "created_at": t.created_at, "events": t.events}
            for t in rows]
    show_list(data, as_json, lambda _: table(
        ("id", "name", "events", "created"),
        ((t.id, t.name, t.events, _seconds(t.created_at)) for t in rows)))


def _seconds(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


@principals_app.command("create")
def principals_create(
    name: Annotated[str, typer.Argument(help="Principal name.")],
    role: Annotated[str, typer.Option(help="admin, privacy_officer, ml_engineer, analyst, agent.")],
    tenant: TenantOpt,
    kind: Annotated[str, typer.Option(help="api_key (prints a key once) or person.")] = "api_key",
    scope: Annotated[list[str] | None, typer.Option(
        "--scope", help="Restrict the key to this scope (repeat): tickets, triage, ...")] = None,
    expires_at: Annotated[datetime | None, typer.Option(
        "--expires-at", help="When the key stops working (ISO time, UTC if no zone).")] = None,
    workspace: WorkspaceOpt = None,
    acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a principal; an API key is printed once and stored only as a hash.

    Example: supportops principals create triage-bot --role agent --tenant acme --scope triage
    """
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    principal, key = open_tenant(workspace, tenant, acting_as).principals.create(
        name, role, kind, scopes=scope, expires_at=expires_at)
    show({"id": principal.id, "name": principal.name, "role": principal.role,
          "kind": principal.kind, "api_key": key}, as_json, _created)


def _created(p: dict[str, Any]) -> list[str | Table]:
    said: list[str | Table] = [f"Principal [bold]{p['name']}[/] ({p['role']}) created."]
    return [*said, f"API key (shown once): {p['api_key']}"] if p["api_key"] else said


@principals_app.command("list")
def principals_list(
    tenant: TenantOpt, workspace: WorkspaceOpt = None, acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List a tenant's principals (never their keys).

    Example: supportops principals list --tenant acme
    """
    rows = open_tenant(workspace, tenant, acting_as).principals.list()
    data = [{"id": p.id, "name": p.name, "role": p.role, "kind": p.kind,
             "created_at": p.created_at} for p in rows]
    show_list(data, as_json, lambda _: table(
        ("name", "role", "kind", "created"),
        ((p.name, p.role, p.kind, _seconds(p.created_at)) for p in rows)))


@principals_app.command("set-role")
def principals_set_role(
    name: Annotated[str, typer.Argument(help="Principal name.")],
    role: Annotated[str, typer.Option(help="The new role.")],
    tenant: TenantOpt, workspace: WorkspaceOpt = None, acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Give a principal another role (audited).

    Example: supportops principals set-role triage-bot --role analyst --tenant acme
    """
    previous = open_tenant(workspace, tenant, acting_as).principals.set_role(name, role)
    show({"name": name, "role": role, "previous": previous}, as_json,
         lambda r: f"Principal [bold]{name}[/]: {previous} -> {role}.")


@principals_app.command("disable")
def principals_disable(
    name: Annotated[str, typer.Argument(help="Principal name.")],
    tenant: TenantOpt, workspace: WorkspaceOpt = None, acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Disable a principal; its API key stops working at once (audited).

    Example: supportops principals disable triage-bot --tenant acme
    """
    open_tenant(workspace, tenant, acting_as).principals.disable(name)
    show({"name": name, "disabled": True}, as_json, lambda r: f"Principal [bold]{name}[/] disabled.")


@principals_app.command("rotate-key")
def principals_rotate_key(
    name: Annotated[str, typer.Argument(help="Principal name.")],
    tenant: TenantOpt, workspace: WorkspaceOpt = None, acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Give an API-key principal a new key (printed once); the old one stops working.

    Example: supportops principals rotate-key triage-bot --tenant acme --json
    """
    key = open_tenant(workspace, tenant, acting_as).principals.rotate_key(name)
    show({"name": name, "api_key": key}, as_json, lambda r: f"New API key (shown once): {key}")


@tickets_app.command("count")
def tickets_count(
    tenant: TenantOpt,
    status: Annotated[str | None, typer.Option(help="Only tickets in this status.")] = None,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Count tickets.

    Example: supportops tickets count --tenant acme --json
    """
    n = open_tenant(workspace, tenant, acting_as).tickets.count(status=status)
    show({"count": n}, as_json, lambda r: str(n))


@tickets_app.command("list")
def tickets_list(
    tenant: TenantOpt,
    status: Annotated[str | None, typer.Option(help="Only tickets in this status.")] = None,
    group: Annotated[str | None, typer.Option(help="Only tickets of this group.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 20,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """List tickets, newest first.

    Example: supportops tickets list --tenant acme --status Active --limit 5
    """
    view = open_tenant(workspace, tenant, acting_as).tickets
    rows = view.list(limit=limit, offset=offset, status=status, group=group)
    show_list(rows, as_json, lambda r: table(
        ("ticket", "status", "priority", "category", "group", "opened"),
        ((t["ticket_id"], t["status"], t["priority"], t["category"], t["group"],
          (t["opened_at"] or "")[:16]) for t in r)))


@tickets_app.command("show")
def tickets_show(
    ticket_id: Annotated[str, typer.Argument(help="Ticket id.")],
    tenant: TenantOpt,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Show one ticket's state and its events.

    Example: supportops tickets show INC0000045 --tenant acme
    """
    row = open_tenant(workspace, tenant, acting_as).tickets.get(ticket_id)
    show(row, as_json, lambda r: [*fields(r, skip=("events", "attributes")), table(
        ("seq", "occurred", "type"),
        ((ev["seq"], ev["occurred_at"][:16], ev["type"]) for ev in r["events"]))])


@events_app.command("tail")
def events_tail(
    tenant: TenantOpt,
    n: Annotated[int, typer.Option("-n", min=1, max=100000, help="How many.")] = 20,
    event_type: Annotated[str | None, typer.Option("--type", help="Only this type.")] = None,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Show the newest events of the log, oldest first.

    Example: supportops events tail --tenant acme -n 5
    """
    events = open_tenant(workspace, tenant, acting_as).events.tail(n, event_type)
    data = [{"seq": e.seq, "id": e.id, "type": e.type, "ticket_id": e.ticket_id,
             "subject": e.subject, "occurred_at": e.occurred_at, "recorded_at": e.recorded_at,
             "payload": e.payload} for e in events]
    show_list(data, as_json, lambda _: table(
        ("seq", "occurred", "type", "ticket"),
        ((e.seq, e.occurred_at.isoformat(timespec="minutes"), e.type, e.ticket_id)
         for e in events)))


@app.command()
def rebuild(
    tenant: TenantOpt, workspace: WorkspaceOpt = None, acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild the ticket projection from the event log.

    Example: supportops rebuild --tenant acme
    """
    n = open_tenant(workspace, tenant, acting_as).events.rebuild()
    show({"tickets": n}, as_json, lambda r: f"Rebuilt {n} tickets from the log.")


def run() -> None:
    """Entry point: user errors exit 2 with one line on stderr, never a traceback. Usage
    errors are Typer's own (standalone mode: usage, the error, exit 2)."""
    try:
        app()
    except SupportopsError as err:
        print(f"Error: {err}", file=sys.stderr)
        sys.exit(2)
    except OSError as err:  # a file the user named cannot be read or written
        print(f"Error: {err.strerror or err}: {err.filename!r}." if err.filename
              else f"Error: {err}", file=sys.stderr)
        sys.exit(2)


__all__ = ["Path", "app", "run"]
