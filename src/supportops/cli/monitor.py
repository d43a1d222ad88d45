"""CLI of monitoring and the feedback loop: triage feedback, monitor report / status / run."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from supportops.cli.common import AsOpt, JsonOpt, WorkspaceOpt, emit_json, open_tenant
from supportops.cli.ml import MlTenantOpt, models_app

triage_app = typer.Typer(help="Triage: agents' feedback on predictions.", no_args_is_help=True)
monitor_app = typer.Typer(help="Drift, estimated and live accuracy, alarms, retraining.",
                          no_args_is_help=True)
console = Console()


@triage_app.command("feedback")
def triage_feedback(
    ticket_id: Annotated[str, typer.Argument(help="The stored ticket the prediction was for.")],
    final: Annotated[str, typer.Option("--final", help="The label the agent decided.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Model name.")] = "triage",
    predicted: Annotated[str | None, typer.Option(help="The label the model predicted.")] = None,
    version: Annotated[str | None, typer.Option(
        help="The model version that predicted it [default: the champion].")] = None,
    action: Annotated[str, typer.Option(help="accept or correct.")] = "accept",
    tenant: MlTenantOpt = "default",
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Accept or correct a triage prediction; the final label enters the next snapshot.

    Example: supportops triage feedback T-42 --name intents --predicted refund --final
    card_lost --action correct --tenant acme --json
    """
    result = open_tenant(workspace, tenant, acting_as).triage.feedback(
        ticket_id, name=name, final=final, predicted=predicted, version=version, action=action)
    if as_json:
        emit_json(result)
    else:
        console.print(f"Ticket {ticket_id}: {action} -> {result['final']} "
                      f"({name} version {result['version']}).")


@monitor_app.command("report")
def monitor_report(
    name: Annotated[str, typer.Option("--name", "-n", help="Model name (its champion).")],
    file: Annotated[Path, typer.Option(
        "--file", help='JSON Lines: {"id": ..., "text": ...} and optionally "label".')],
    window: Annotated[int, typer.Option("--window", help="Lines per window.")],
    tenant: MlTenantOpt = "default",
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Replay a stream through the champion (nothing stored) and report each window of N
    consecutive lines: input drift on embeddings (domain-classifier AUC), estimated accuracy
    from calibrated confidences, accuracy where lines carry a label, abstention; the
    label-mix drift under its own keys.

    Example: supportops monitor report --name intents --file stream.jsonl --window 200 --json
    """
    result = open_tenant(workspace, tenant, acting_as).monitor.report(name, file, window)
    if as_json:
        emit_json(result)
        return
    console.print(f"Model [bold]{name}[/] version {result['version']}:")
    for w in result["windows"]:
        flag = "DRIFT" if w["drift"] else "ok"
        console.print(f"  [{w['start']}, {w['end']}) n={w['n']} auc={w['drift_score']:.3f} "
                      f"{flag} est.acc={w['estimated_accuracy']:.3f} acc={w['accuracy']} "
                      f"abstain={w['abstention_rate']:.3f} label-js={w['label_drift_score']:.3f}")


@models_app.command("compare")
def models_compare(
    name: Annotated[str, typer.Argument(help="Model name.")],
    challenger: Annotated[str | None, typer.Option(
        help="Version to compare with the champion [default: the challenger].")] = None,
    tenant: MlTenantOpt = "default",
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Champion and challenger on feedback-labelled tickets neither trained on: both
    accuracies and an exact McNemar test.

    Example: supportops models compare intents --tenant acme --json
    """
    result = open_tenant(workspace, tenant, acting_as).monitor.compare(name, challenger)
    if as_json:
        emit_json(result)
        return
    a, b, test = result["champion"], result["challenger"], result["mcnemar"]
    console.print(f"{name} on {result['tickets']} feedback-labelled tickets: champion "
                  f"{a['version']} accuracy {a['accuracy']}, challenger {b['version']} accuracy "
                  f"{b['accuracy']}; exact McNemar p={test['p_value']:.4g} "
                  f"({'significant' if test['significant'] else 'not significant'}).")


@monitor_app.command("status")
def monitor_status(
    name: Annotated[str | None, typer.Option("--name", "-n", help="Only this model.")] = None,
    since: Annotated[datetime | None, typer.Option(
        "--since", help="Assistant feedback given from this ISO time (UTC) on.")] = None,
    tenant: MlTenantOpt = "default",
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Champion and challenger, live figures per version (served, abstention, latency
    percentiles, accuracy from feedback), recent alarms and thresholds; agents' verdicts on
    the assistant's drafts (used / edited / rejected per model and index version, and the
    articles rejected most).

    Example: supportops monitor status --tenant acme --since 2026-11-01 --json
    """
    result = open_tenant(workspace, tenant, acting_as).monitor.status(name, since)
    if as_json:
        emit_json(result)
        return
    for m in result["models"]:
        console.print(f"[bold]{m['model']}[/]: champion {m['champion']}, challenger "
                      f"{m['challenger']}, reference {m['reference']}")
        for version, figures in m["versions"].items():
            console.print(f"  version {version}: {figures}")
        for alarm in m["alarms"]:
            console.print(f"  ALARM {alarm['at']} {alarm['kind']} version {alarm['version']}: "
                          f"{alarm['score']} vs {alarm['threshold']} on {alarm['n']}")
    console.print(f"thresholds: {result['thresholds']}")
    _print_assistant(result["assistant"])


def _print_assistant(feedback: dict[str, Any]) -> None:
    """Verdicts on drafts as two tables: per model and index version, worst articles."""
    since = f" since {feedback['since']}" if feedback["since"] else ""
    table = Table("model", "index version", "judged", "used", "edited", "rejected",
                  "rejection rate",
                  title=f"Assistant drafts judged{since}: {feedback['judged']}")
    for row in [*feedback["by_version"], {"model": "all", "index_version": "",
                                          **feedback}]:
        c = row["counts"]
        table.add_row(str(row["model"]), str(row["index_version"]), str(row["judged"]),
                      str(c["used"]), str(c["edited"]), str(c["rejected"]),
                      "-" if row["rejection_rate"] is None else f"{row['rejection_rate']:.1%}")
    console.print(table)
    if feedback["worst_articles"]:
        worst = Table("article", "cited", "rejected", "rejection rate",
                      title="Articles rejected most")
        for a in feedback["worst_articles"]:
            worst.add_row(a["article_id"], str(a["cited"]), str(a["rejected"]),
                          f"{a['rejection_rate']:.1%}")
        console.print(worst)


@monitor_app.command("run")
def monitor_run(
    tenant: MlTenantOpt = "default",
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Check every champion's live traffic, raise alarms, retrain where a new alarm or a
    pending erasure asks for it, then deliver the tenant's due webhooks once (new alarms go
    to 'alarm.raised' subscribers without a server running). Safe to run from cron: the same
    traffic never alarms or retrains twice.

    Example: supportops monitor run --tenant acme --json
    """
    result = open_tenant(workspace, tenant, acting_as).monitor.run()
    if as_json:
        emit_json(result)
        return
    for check in result["checks"]:
        console.print(f"{check['model']} version {check['version']}: {check['checked']} "
                      f"predictions checked, {len(check['alarms'])} new alarm(s).")
    for r in result["retrained"]:
        console.print(f"retrained {r['model']}: version {r['version']} ({r['alias']}), "
                      f"{r['reason']}")
    sent = result["webhooks"]
    if any(sent.values()):
        console.print(f"webhooks: {sent['delivered']} delivered, {sent['retrying']} to retry, "
                      f"{sent['failed']} failed.")


@monitor_app.command("threshold")
def monitor_threshold(
    key: Annotated[str, typer.Argument(help="drift_auc, drift_sigmas, label_js, ...")],
    value: Annotated[float, typer.Argument(help="The tenant's value.")],
    tenant: MlTenantOpt = "default",
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Set one of the tenant's alarm thresholds (audited).

    Example: supportops monitor threshold drift_auc 0.6 --tenant acme
    """
    result = open_tenant(workspace, tenant, acting_as).monitor.set_threshold(key, value)
    if as_json:
        emit_json(result)
    else:
        console.print(f"{key} = {result[key]}")


@models_app.command("retrain")
def models_retrain(
    name: Annotated[str, typer.Argument(help="Model name.")],
    tenant: MlTenantOpt = "default",
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Snapshot now, train with the champion's settings, register as challenger (lineage
    recorded; promote it with 'models promote' once it proves better).

    Example: supportops models retrain intents --tenant acme --json
    """
    result = open_tenant(workspace, tenant, acting_as).monitor.retrain(name)
    if as_json:
        emit_json(result)
    else:
        console.print(f"{name} version {result['version']} is {result['alias']} (snapshot "
                      f"{result['snapshot']}).")


def register(app: typer.Typer) -> None:
    """Add this room's commands to the main app."""
    app.add_typer(triage_app, name="triage")
    app.add_typer(monitor_app, name="monitor")
