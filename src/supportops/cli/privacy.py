"""CLI commands of the privacy room: ``pii`` and ``privacy`` (``audit``, ``lineage`` in
:mod:`supportops.cli.governance`). Each command is one call into the library."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from supportops.cli import governance as governance_cli
from supportops.cli.common import AsOpt, JsonOpt, TenantOpt, WorkspaceOpt, open_tenant
from supportops.cli.output import fields, lines, show, show_list
from supportops.privacy.subjects import SubjectKind

pii_app = typer.Typer(help="Detect and reveal personal data.", no_args_is_help=True)
privacy_app = typer.Typer(help="Opt-out, erasure and retention of data subjects.",
                          no_args_is_help=True)
retention_app = typer.Typer(help="The tenant's retention policy.", no_args_is_help=True)
privacy_app.add_typer(retention_app, name="retention")
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
    show(data, as_json, _revealed)


def _revealed(data: dict[str, Any]) -> list[str]:
    """Each event's line and its payload with original values, then how many were revealed."""
    return [*(escape(line) for ev in data["events"] for line in (
        f"#{ev['seq']} {ev['occurred_at'][:16]} {ev['type']} {ev['subject'] or ''}",
        str(ev["payload"]))),
        f"{data['revealed']} value(s) revealed, {data['unavailable']} unavailable."]


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
    with handle, lines(as_json, _spans) as emit:
        for result in detect_jsonl(handle, default_detector()):
            emit(result)


def _spans(result: dict[str, Any]) -> str:
    spans = ", ".join(f"{s['type']}[{s['start']}:{s['end']}]" for s in result["spans"])
    return f"{result['id']}: {spans or '-'}"


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
    show(data, as_json, lambda r: f"{r['subject']} opted out of training.")


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
    show(data, as_json, lambda r: f"{r['subject']} opted in to training.")


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
    show_list(tokens, as_json, lambda r: r)


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
    show(report, as_json, fields)


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
    show(reports[-1], as_json, lambda latest: [line for r in reports for line in fields(r)])


@privacy_app.command("enforce-retention")
def enforce_retention(
    tenant: TenantOpt, workspace: WorkspaceOpt = None, acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Apply the retention policy once (idempotent; safe from cron).

    Example: supportops privacy enforce-retention --tenant acme --json
    """
    data = open_tenant(workspace, tenant, acting_as).privacy.enforce_retention()
    show(data, as_json, lambda r: f"{r['messages_redacted']} message bodies redacted, "
         f"{r['tickets_stripped']} closed tickets stripped, {r['subjects_shredded']} subjects "
         "shredded.")


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
    show(policy.as_dict(), as_json, fields)


@retention_app.command("show")
def retention_show(
    tenant: TenantOpt, workspace: WorkspaceOpt = None, acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the tenant's retention policy.

    Example: supportops privacy retention show --tenant acme
    """
    policy = open_tenant(workspace, tenant, acting_as).privacy.policy()
    show(policy.as_dict(), as_json, fields)
