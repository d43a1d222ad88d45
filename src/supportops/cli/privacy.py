"""CLI commands of the privacy room: ``pii`` and ``privacy`` (``audit``, ``lineage`` in
:mod:`supportops.cli.governance`). Each command is one call into the library."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from supportops.cli import governance as governance_cli
from supportops.cli.common import (
    AsOpt,
    JsonOpt,
    TenantOpt,
    WorkspaceOpt,
    emit_json,
    emit_jsonl,
    open_tenant,
)
from supportops.privacy.subjects import SubjectKind

pii_app = typer.Typer(help="Detect and reveal personal data.", no_args_is_help=True)
privacy_app = typer.Typer(help="Opt-out, erasure and retention of data subjects.",
                          no_args_is_help=True)
retention_app = typer.Typer(help="The tenant's retention policy.", no_args_is_help=True)
privacy_app.add_typer(retention_app, name="retention")
console = Console()
SubjectArg = Annotated[str, typer.Argument(help="Customer id as it appeared in the input.")]
KindOpt = Annotated[SubjectKind, typer.Option(
    "--kind", help="Whose id SUBJECT is: a customer's, an agent's or an employee's name.")]


def register(app: typer.Typer) -> None:
    """Add this room's commands to the main app."""
    app.add_typer(pii_app, name="pii")
    app.add_typer(privacy_app, name="privacy")
    governance_cli.register(app)


@pii_app.command("reveal")
def pii_reveal(
    ticket_id: Annotated[str, typer.Argument(help="Ticket id.")],
    tenant: TenantOpt, workspace: WorkspaceOpt = None, acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a ticket's events with original values (roles agent, privacy_officer; audited).

    Example: supportops pii reveal T-1001 --tenant acme --as alice --json
    """
    data = open_tenant(workspace, tenant, acting_as).privacy.reveal(ticket_id)
    if as_json:
        emit_json(data)
        return
    for ev in data["events"]:
        console.print(f"#{ev['seq']} {ev['occurred_at'][:16]} {ev['type']} {ev['subject'] or ''}")
        console.print(ev["payload"], soft_wrap=True)
    console.print(f"{data['revealed']} value(s) revealed, {data['unavailable']} unavailable.")


@pii_app.command("detect")
def pii_detect(
    file: Annotated[Path, typer.Option("--file", "-f", help="JSON lines {id, text}; '-' = stdin.")],
    as_json: JsonOpt = False,
) -> None:
    """Detect PII spans in JSON lines; prints one {id, spans} line per input line.

    Example: supportops pii detect --file texts.jsonl --json
    """
    from supportops.privacy.detection import detect_jsonl
    from supportops.privacy.protector import default_detector

    handle = sys.stdin if str(file) == "-" else file.open(encoding="utf-8")
    with handle:
        for result in detect_jsonl(handle, default_detector()):
            if as_json:
                emit_jsonl(result)
            else:
                spans = ", ".join(f"{s['type']}[{s['start']}:{s['end']}]"
                                  for s in result["spans"])
                console.print(f"{result['id']}: {spans or '-'}", soft_wrap=True)
    sys.stdout.flush()


@privacy_app.command("opt-out")
def opt_out(
    subject: SubjectArg, tenant: TenantOpt,
    reason: Annotated[str | None, typer.Option(help="Why (kept pseudonymised).")] = None,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Opt a customer out of model training (recorded as an event, audited).

    Example: supportops privacy opt-out CUST-42 --reason "asked by e-mail" --tenant acme
    """
    data = open_tenant(workspace, tenant, acting_as).privacy.opt_out(subject, reason)
    _done(data, as_json, f"{data['subject']} opted out of training.")


@privacy_app.command("opt-in")
def opt_in(
    subject: SubjectArg, tenant: TenantOpt,
    reason: Annotated[str | None, typer.Option(help="Why (kept pseudonymised).")] = None,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Opt a customer back into model training (recorded as an event, audited).

    Example: supportops privacy opt-in CUST-42 --tenant acme
    """
    data = open_tenant(workspace, tenant, acting_as).privacy.opt_in(subject, reason)
    _done(data, as_json, f"{data['subject']} opted in to training.")


@privacy_app.command("opted-out")
def opted_out(
    tenant: TenantOpt,
    as_of: Annotated[int | None, typer.Option("--as-of", help="Log position (seq).")] = None,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """List subjects (tokens) opted out of training, now or at a log position.

    Example: supportops privacy opted-out --tenant acme --as-of 1200 --json
    """
    tokens = sorted(open_tenant(workspace, tenant, acting_as).privacy.opted_out(as_of))
    if as_json:
        emit_json({"data": tokens, "count": len(tokens)})
        return
    for token in tokens:
        console.print(token)


@privacy_app.command("erase")
def erase(
    subject: SubjectArg, tenant: TenantOpt,
    retrain: Annotated[bool, typer.Option(
        "--retrain", help="Then retrain the flagged models ('models retrain-flagged').")] = False,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
    kind: KindOpt = SubjectKind.customer,
) -> None:
    """Erase a data subject everywhere (key, vault, events, projections, derived rows) and
    report. A customer's erasure takes along the third parties named only in its records.

    Example: supportops privacy erase CUST-42 --tenant acme --retrain --json
    Example: supportops privacy erase "Resolver 17" --kind agent --tenant acme
    """
    report = open_tenant(workspace, tenant, acting_as).privacy.erase(subject, kind.value,
                                                              retrain=retrain)
    _report(report, as_json)


@privacy_app.command("report")
def report(
    subject: SubjectArg, tenant: TenantOpt,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
    kind: KindOpt = SubjectKind.customer,
) -> None:
    """Show the stored erasure report(s) of a subject again (the latest last).

    Example: supportops privacy report CUST-42 --tenant acme --json
    """
    reports = open_tenant(workspace, tenant, acting_as).privacy.reports(subject, kind.value)
    if as_json:
        emit_json(reports[-1])
        return
    for item in reports:
        _report(item, False)


@privacy_app.command("enforce-retention")
def enforce_retention(
    tenant: TenantOpt, workspace: WorkspaceOpt = None, acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Apply the retention policy once (idempotent; safe from cron).

    Example: supportops privacy enforce-retention --tenant acme --json
    """
    data = open_tenant(workspace, tenant, acting_as).privacy.enforce_retention()
    _done(data, as_json, f"{data['messages_redacted']} message bodies redacted, "
          f"{data['tickets_stripped']} closed tickets stripped, "
          f"{data['subjects_shredded']} subjects shredded.")


@retention_app.command("set")
def retention_set(
    tenant: TenantOpt,
    message_days: Annotated[int | None, typer.Option(
        help="Redact message bodies older than this many days.")] = None,
    closed_ticket_days: Annotated[int | None, typer.Option(
        help="Drop personal data of tickets closed this many days ago.")] = None,
    retrain: Annotated[str | None, typer.Option(
        help="On erasure: 'on_erasure' schedules retraining, 'manual' only flags.")] = None,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Set retention periods and the retraining policy (unset options stay as they are).

    Example: supportops privacy retention set --message-days 365 --closed-ticket-days 730 --tenant acme
    """
    changes = {k: v for k, v in (("message_body_days", message_days),
                                 ("closed_ticket_pii_days", closed_ticket_days),
                                 ("retrain", retrain)) if v is not None}
    policy = open_tenant(workspace, tenant, acting_as).privacy.set_policy(**changes)
    _done(policy.as_dict(), as_json, str(policy.as_dict()))


@retention_app.command("show")
def retention_show(
    tenant: TenantOpt, workspace: WorkspaceOpt = None, acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the tenant's retention policy.

    Example: supportops privacy retention show --tenant acme
    """
    policy = open_tenant(workspace, tenant, acting_as).privacy.policy()
    _done(policy.as_dict(), as_json, str(policy.as_dict()))


def _done(data: object, as_json: bool, line: str) -> None:
    if as_json:
        emit_json(data)
    else:
        console.print(line, soft_wrap=True)


def _report(data: dict[str, object], as_json: bool) -> None:
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        console.print(f"[bold]{key}[/]: {value}", soft_wrap=True)
