"""CLI of monitoring and the feedback loop: triage feedback, monitor report / status / run."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from supportops.cli.common import AsOpt, JsonOpt, ModelArg, TenantOpt, WorkspaceOpt, open_tenant
from supportops.cli.ml import models_app
from supportops.cli.output import show, table

triage_app = typer.Typer(help="Triage: agents' feedback on predictions.", no_args_is_help=True)
monitor_app = typer.Typer(help="Drift, estimated and live accuracy, alarms, retraining.",
                          no_args_is_help=True)


@triage_app.command("feedback")
def triage_feedback(
    ticket_id: Annotated[str, typer.Argument(help="The stored ticket the prediction was for.")],
    final: Annotated[str, typer.Option("--final", help="The label the agent decided.")],
    tenant: TenantOpt,
    name: Annotated[str, typer.Option("--name", "-n", help="Model name.")] = "triage",
    predicted: Annotated[str | None, typer.Option(help="The label the model predicted.")] = None,
    version: Annotated[str | None, typer.Option(
        help="The model version that predicted it [default: the champion].")] = None,
    action: Annotated[str, typer.Option(help="accept or correct.")] = "accept",
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Accept or correct a triage prediction; the final label enters the next snapshot.

    Example: supportops triage feedback T-42 --name intents --predicted refund --final
    card_lost --action correct --tenant acme --json
    """
    result = open_tenant(workspace, tenant, acting_as).triage.feedback(
        ticket_id, name=name, final=final, predicted=predicted, version=version, action=action)
    show(result, as_json, lambda r: f"Ticket {ticket_id}: {action} -> {r['final']} ({name} "
         f"version {r['version']}).")


@monitor_app.command("report")
def monitor_report(
    name: Annotated[str, typer.Option("--name", "-n", help="Model name (its champion).")],
    file: Annotated[Path, typer.Option(
        "--file", help='JSON Lines: {"id": ..., "text": ...} and optionally "label".')],
    window: Annotated[int, typer.Option("--window", help="Lines per window.")],
    tenant: TenantOpt,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Replay a stream through the champion (nothing stored) and report each window of N
    consecutive lines: input drift on embeddings (domain-classifier AUC), estimated accuracy
    from calibrated confidences, accuracy where lines carry a label, abstention; the
    label-mix drift under its own keys.

    Example: supportops monitor report --name intents --file stream.jsonl --window 200
    --tenant acme --json
    """
    result = open_tenant(workspace, tenant, acting_as).monitor.report(name, file, window)
    show(result, as_json, _windows)


def _windows(result: dict[str, Any]) -> Table:
    return table(
        ("lines", "n", "drift AUC", "drift", "est. acc.", "accuracy", "abstain", "label JS"),
        ((f"[{w['start']}, {w['end']})", w["n"], f"{w['drift_score']:.3f}",
          "DRIFT" if w["drift"] else "ok", f"{w['estimated_accuracy']:.3f}", _num(w["accuracy"]),
          f"{w['abstention_rate']:.3f}", f"{w['label_drift_score']:.3f}")
         for w in result["windows"]),
        title=f"Model {result['model']} version {result['version']}")


def _num(value: float | None, pattern: str = "{:.3f}") -> str:
    return "-" if value is None else pattern.format(value)


@models_app.command("compare")
def models_compare(
    name: ModelArg,
    tenant: TenantOpt,
    challenger: Annotated[str | None, typer.Option(
        help="Version to compare with the champion [default: the challenger].")] = None,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Champion and challenger on feedback-labelled tickets neither trained on: both
    accuracies and an exact McNemar test.

    Example: supportops models compare intents --tenant acme --json
    """
    result = open_tenant(workspace, tenant, acting_as).monitor.compare(name, challenger)
    show(result, as_json, _compared)


def _compared(r: dict[str, Any]) -> str:
    a, b, test = r["champion"], r["challenger"], r["mcnemar"]
    return (f"{r['model']} on {r['tickets']} feedback-labelled tickets: champion "
            f"{a['version']} accuracy {a['accuracy']}, challenger {b['version']} accuracy "
            f"{b['accuracy']}; exact McNemar p={test['p_value']:.4g} "
            f"({'significant' if test['significant'] else 'not significant'}).")


@monitor_app.command("status")
def monitor_status(
    tenant: TenantOpt,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Only this model.")] = None,
    since: Annotated[datetime | None, typer.Option(
        "--since", help="Assistant feedback given from this ISO time (UTC) on.")] = None,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Champion and challenger, live figures per version (served, abstention, latency
    percentiles, accuracy from feedback), recent alarms and thresholds; agents' verdicts on
    the assistant's drafts (used / edited / rejected per model and index version, and the
    articles rejected most).

    Example: supportops monitor status --tenant acme --since 2026-11-01 --json
    """
    result = open_tenant(workspace, tenant, acting_as).monitor.status(name, since)
    show(result, as_json, lambda r: [*(t for m in r["models"] for t in _model_status(m)),
                                     _thresholds(r["thresholds"]), *_assistant(r["assistant"])])


def _model_status(m: dict[str, Any]) -> list[str | Table]:
    """A model's aliases and held-out reference, its live figures per version, its alarms."""
    ref = m["reference"]
    versions = table(
        ("version", "aliases", "served", "abstain", "ms p50/95/99", "feedback", "its accuracy"),
        ((v, ",".join(f.get("aliases", [])), f["served"], _num(f.get("abstention_rate")),
          _latency(f.get("latency_ms", {})), f.get("feedback", 0),
          _num(f.get("accuracy_from_feedback"))) for v, f in m["versions"].items()),
        title=f"{m['model']}: live figures per version")
    alarms = table(("at", "kind", "version", "score", "threshold", "n"),
                   ((a["at"], a["kind"], a["version"], a["score"], a["threshold"], a["n"])
                    for a in m["alarms"]), title=f"{m['model']}: recent alarms")
    head = (f"[bold]{m['model']}[/]: champion {m['champion']}, challenger {m['challenger']}; "
            f"held-out accuracy {_num(ref['held_out_accuracy'])}, abstention "
            f"{_num(ref['abstention_rate'])} on {ref['held_out']} tickets")
    return [head, versions, *([alarms] if m["alarms"] else [])]


def _latency(ms: dict[str, float]) -> str:
    return "/".join(_num(ms.get(p), "{:.1f}") for p in ("p50", "p95", "p99"))


def _thresholds(values: dict[str, Any]) -> Table:
    return table(("threshold", "value"), values.items(), title="Alarm thresholds")


def _assistant(feedback: dict[str, Any]) -> list[str | Table]:
    """Verdicts on drafts as two tables: per model and index version, worst articles."""
    since = f" since {feedback['since']}" if feedback["since"] else ""
    drafts = table(
        ("model", "index version", "judged", "used", "edited", "rejected", "rejection rate"),
        ((row["model"], row["index_version"], row["judged"], row["counts"]["used"],
          row["counts"]["edited"], row["counts"]["rejected"],
          _num(row["rejection_rate"], "{:.1%}"))
         for row in [*feedback["by_version"], {"model": "all", "index_version": "", **feedback}]),
        title=f"Assistant drafts judged{since}: {feedback['judged']}")
    worst = table(("article", "cited", "rejected", "rejection rate"),
                  ((a["article_id"], a["cited"], a["rejected"], f"{a['rejection_rate']:.1%}")
                   for a in feedback["worst_articles"]), title="Articles rejected most")
    return [drafts, *([worst] if feedback["worst_articles"] else [])]


@monitor_app.command("run")
def monitor_run(
    tenant: TenantOpt,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Check every champion's live traffic, raise alarms, retrain where a new alarm or a
    pending erasure asks for it, then deliver the tenant's due webhooks once (new alarms go
    to 'alarm.raised' subscribers without a server running). Safe to run from cron: the same
    traffic never alarms or retrains twice.

    Example: supportops monitor run --tenant acme --json
    """
    result = open_tenant(workspace, tenant, acting_as).monitor.run()
    show(result, as_json, _monitored)


def _monitored(result: dict[str, Any]) -> list[str]:
    """A line per champion checked and per version retrained; webhooks when any were due."""
    sent = result["webhooks"]
    return [*(f"{c['model']} version {c['version']}: {c['checked']} predictions checked, "
              f"{len(c['alarms'])} new alarm(s)." for c in result["checks"]),
            *(f"retrained {r['model']}: version {r['version']} ({r['alias']}), {r['reason']}"
              for r in result["retrained"]),
            *([f"webhooks: {sent['delivered']} delivered, {sent['retrying']} to retry, "
               f"{sent['failed']} failed."] if any(sent.values()) else [])]


@monitor_app.command("threshold")
def monitor_threshold(
    key: Annotated[str, typer.Argument(help="drift_auc, drift_sigmas, label_js, ...")],
    value: Annotated[float, typer.Argument(help="The tenant's value.")],
    tenant: TenantOpt,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Set one of the tenant's alarm thresholds (audited).

    Example: supportops monitor threshold drift_auc 0.6 --tenant acme
    """
    result = open_tenant(workspace, tenant, acting_as).monitor.set_threshold(key, value)
    show(result, as_json, lambda r: f"{key} = {r[key]}")


@models_app.command("retrain")
def models_retrain(
    name: ModelArg,
    tenant: TenantOpt,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Snapshot now, train with the champion's settings, register as challenger (lineage
    recorded; promote it with 'models promote' once it proves better).

    Example: supportops models retrain intents --tenant acme --json
    """
    result = open_tenant(workspace, tenant, acting_as).monitor.retrain(name)
    show(result, as_json, lambda r: f"{name} version {r['version']} is {r['alias']} (snapshot "
         f"{r['snapshot']}).")


def register(app: typer.Typer) -> None:
    """Add this room's commands to the main app."""
    app.add_typer(triage_app, name="triage")
    app.add_typer(monitor_app, name="monitor")
