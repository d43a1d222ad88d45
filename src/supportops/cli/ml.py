"""CLI of the ML lifecycle: datasets, models, and train / predict / eval for triage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from supportops.cli.common import AsOpt, JsonOpt, ModelArg, TenantOpt, WorkspaceOpt, open_tenant
from supportops.cli.output import fields, lines, show, show_list, table

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Model name (one per task).")]

train_app = typer.Typer(help="Train models.", no_args_is_help=True)
predict_app = typer.Typer(help="Predict with a model's champion.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate a model's champion on labelled data.", no_args_is_help=True)
datasets_app = typer.Typer(help="Point-in-time dataset snapshots.", no_args_is_help=True)
models_app = typer.Typer(help="Registered models, promotion and rollback.", no_args_is_help=True)
console = Console()


@train_app.command("triage")
def train_triage(
    data: Annotated[Path, typer.Option("--data", help="Training file (ingested if needed).")],
    fmt: Annotated[str, typer.Option(
        "--format", "-f", help="banking77, csv, servicenow-incidents, jsonl, ...")],
    target: Annotated[str, typer.Option(
        help="Label: category, group, priority, sentiment (from CSAT ratings), ...")],
    name: NameOpt,
    tenant: TenantOpt,
    kind: Annotated[str, typer.Option(help="auto, text or fields.")] = "auto",
    encoder: Annotated[str, typer.Option(help=(
        "Sentence encoder of text models: minilm-onnx-int8, static, minilm, "
        "or none (TF-IDF n-grams only)."))] = "minilm-onnx-int8",
    precision: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, help=(
            "Precision target of the abstention threshold, kept strictly. Default: 0.95, "
            "relaxed where needed so the model answers at least 80% of the validation "
            "tickets."))] = None,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Ingest, snapshot, train, evaluate on a held-out part, register, make champion.

    Example: supportops train triage --data train.csv --format banking77 --target category
    --name intents --tenant acme --json
    """
    result = open_tenant(workspace, tenant, acting_as).triage.train(
        name, target, data=data, format=fmt, kind=kind, encoder=encoder, precision=precision)
    out = {"model": result["model"], "version": result["version"], "metrics": result["metrics"],
           "snapshot": result["snapshot"], "digest": result["digest"]}
    show(out, as_json, _trained)


def _trained(r: dict[str, Any]) -> list[str | Table]:
    return [f"Model [bold]{r['model']}[/] version {r['version']} is champion (snapshot "
            f"{r['snapshot']}).", _headline(r["metrics"]), _metrics(r["metrics"])]


def _metrics(metrics: dict[str, Any]) -> Table:
    return table(("metric", "value"), metrics.items())


def _headline(m: dict[str, Any]) -> str:
    """Accuracy and coverage side by side: what the model gets right, and how often it
    answers at all, on the held-out tickets."""
    line = (f"On {m['rows']} held-out tickets: accuracy {m['accuracy']:.3f}, answers "
            f"{m['coverage']:.1%} at precision target {m['precision_target']:.3f} "
            f"(precision when answering {m['precision_when_answering']:.3f}), top-3 "
            f"{m['top3_accuracy']:.3f}.")
    if m.get("too_rare_to_evaluate"):
        line += (f" {m['too_rare_to_evaluate']} value(s) with fewer than "
                 f"{m['too_rare_min_tickets']} tickets are in training but too rare to "
                 "evaluate.")
    return line


@predict_app.command("triage")
def predict_triage(
    name: NameOpt,
    file: Annotated[Path, typer.Option("--file", help='JSON Lines: {"id": ..., "text": ...}.')],
    tenant: TenantOpt,
    write_back: Annotated[bool, typer.Option(
        help="Record confident predictions on existing tickets as events.")] = False,
    batch: Annotated[int, typer.Option(min=1, help="Lines per batch.")] = 1024,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Predict with the champion; one JSON line per input line.

    Example: supportops predict triage --name intents --file new.jsonl --tenant acme --json
    """
    records = open_tenant(workspace, tenant, acting_as).triage.predict(
        file, name, write_back=write_back, batch_size=batch)
    with lines(as_json, _prediction) as emit:
        for record in records:
            emit(record)


def _prediction(r: dict[str, Any]) -> str:
    return f"{r['id']}\t{r['label']}\t{r['confidence']:.3f}\t{r['abstained']}"


@eval_app.command("triage")
def eval_triage(
    name: NameOpt,
    data: Annotated[Path, typer.Option("--data", help="Labelled file (not ingested).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="Its format.")],
    tenant: TenantOpt,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Accuracy, macro-F1 and coverage at precision 0.90/0.95/0.99 of the champion.

    Example: supportops eval triage --name intents --data test.csv --format banking77
    --tenant acme --json
    """
    result = open_tenant(workspace, tenant, acting_as).triage.evaluate(name, data, fmt)
    show(result, as_json, lambda r: [
        f"Model [bold]{name}[/] version {r['version']} on {data.name}:", _metrics(r["metrics"])])


@datasets_app.command("create")
def datasets_create(
    name: Annotated[str, typer.Option(help="Snapshot name.")],
    tenant: TenantOpt,
    require: Annotated[str | None, typer.Option(help="Keep only tickets with this label.")] = None,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Snapshot the tenant's log now as Parquet (opted-out and erased subjects excluded).

    Example: supportops datasets create --name weekly --require category --tenant acme
    """
    snap = open_tenant(workspace, tenant, acting_as).datasets.create(name, require)
    show(snap.as_dict(), as_json, lambda s: f"Snapshot [bold]{snap.id}[/]: {snap.row_count} "
         f"rows at log position {snap.log_position}, digest {snap.digest[:16]}...")


@datasets_app.command("list")
def datasets_list(
    tenant: TenantOpt,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """List dataset snapshots.

    Example: supportops datasets list --tenant acme --json
    """
    snaps = open_tenant(workspace, tenant, acting_as).datasets.list()
    show_list([s.as_dict() for s in snaps], as_json, lambda r: table(
        ("id", "name", "rows", "log position", "state", "digest"),
        ((s.id, s.name, s.row_count, s.log_position, s.state, s.digest[:16]) for s in snaps)))


@datasets_app.command("show")
def datasets_show(
    snapshot_id: Annotated[str, typer.Argument(help="Snapshot id.")],
    tenant: TenantOpt,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Show one snapshot: digest, log position, exclusions, file.

    Example: supportops datasets show snap-1a2b3c4d5e6f --tenant acme
    """
    snap = open_tenant(workspace, tenant, acting_as).datasets.get(snapshot_id).as_dict()
    show(snap, as_json, fields)


@datasets_app.command("rebuild-flagged")
def datasets_rebuild_flagged(
    tenant: TenantOpt,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Rebuild the snapshots that an erasure flagged, without the erased data.

    Example: supportops datasets rebuild-flagged --tenant acme --json
    """
    done = open_tenant(workspace, tenant, acting_as).datasets.rebuild_flagged()
    show({"rebuilt": done, "count": len(done)}, as_json,
         lambda r: f"Rebuilt {r['count']} snapshot(s).")


@models_app.command("list")
def models_list(
    tenant: TenantOpt,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Only this model.")] = None,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """List model versions with aliases, metrics, snapshot and erasure flags.

    Example: supportops models list --tenant acme --json
    """
    versions = open_tenant(workspace, tenant, acting_as).triage.versions(name)
    show_list(versions, as_json, lambda r: table(
        ("model", "version", "aliases", "accuracy", "snapshot", "erased data"),
        ((v["name"], v["version"], ",".join(v["aliases"]),
          f"{v['metrics'].get('accuracy', float('nan')):.4f}", v["snapshot"],
          v["contains_erased_data"]) for v in r)))


@models_app.command("promote")
def models_promote(
    name: ModelArg,
    version: Annotated[str, typer.Argument(help="Version to promote.")],
    tenant: TenantOpt,
    alias: Annotated[str, typer.Option(help="champion or challenger.")] = "champion",
    force: Annotated[bool, typer.Option(
        "--force", help="Promote to champion even when the version is not significantly "
        "better than the champion on feedback (exact McNemar, p < 0.05).")] = False,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Point an alias at a version (audited, with the comparison that allowed it); serving
    switches at once. A new champion must be significantly better than the current one on
    feedback-labelled tickets unless --force.

    Example: supportops models promote intents 3 --tenant acme
    """
    result = open_tenant(workspace, tenant, acting_as).triage.promote(
        name, version, alias=alias, force=force)
    show(result, as_json, lambda r: f"{name}@{alias} -> version {version} (was {r['previous']}).")


@models_app.command("rollback")
def models_rollback(
    name: ModelArg,
    tenant: TenantOpt,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Make the previous champion champion again (audited).

    Example: supportops models rollback intents --tenant acme
    """
    result = open_tenant(workspace, tenant, acting_as).triage.rollback(name)
    show(result, as_json,
         lambda r: f"{name}@champion -> version {r['version']} (was {r['previous']}).")


@models_app.command("retrain-flagged")
def models_retrain_flagged(
    tenant: TenantOpt,
    margin: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Largest accuracy loss that still counts as not worse.")] = 0.02,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Rebuild flagged snapshots, retrain every version holding erased data, move its aliases
    to the replacement when it is not significantly worse, delete the old artefacts (audited).

    Example: supportops models retrain-flagged --tenant acme --json
    """
    result = open_tenant(workspace, tenant, acting_as).triage.retrain_flagged(margin)
    show(result, as_json, retrained)


@models_app.command("reproduce")
def models_reproduce(
    name: ModelArg,
    version: Annotated[str, typer.Argument(help="Version to rebuild.")],
    tenant: TenantOpt,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Rebuild a version from its lineage (its snapshot, its recorded parameters) in a
    scratch area and compare it with what was recorded; exit 0 when it matches, 1 when not.

    Example: supportops models reproduce intents 1 --tenant acme --json
    """
    result = open_tenant(workspace, tenant, acting_as).triage.reproduce(name, version)
    show({k: result[k] for k in ("model", "version", "match", "metrics", "differences",
                                 "state_digest", "environment")}, as_json,
         lambda r: _reproduced(r, result["snapshot"]))
    raise typer.Exit(0 if result["match"] else 1)


def _reproduced(r: dict[str, Any], snapshot: str) -> list[str]:
    verdict = "matches" if r["match"] else "does NOT match"
    return [f"{r['model']} version {r['version']} rebuilt from {snapshot} {verdict} its record "
            f"(state digest {r['state_digest'][:16]}).",
            *(f"  {d['field']}: recorded {d['recorded']!r}, now {d['rebuilt']!r}"
              for d in r["differences"] + r["environment"])]


@models_app.command("card")
def models_card(
    name: ModelArg,
    version: Annotated[str, typer.Argument(help="Version.")],
    tenant: TenantOpt,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """The model card of a version: data, exclusions, metrics by class, abstention, known
    limits.

    Example: supportops models card intents 1 --tenant acme
    """
    card = open_tenant(workspace, tenant, acting_as).triage.card(name, version)
    show(card, as_json, _card)


CARD_SECTIONS = (("Task", "task"), ("Data", "data"), ("Exclusions", "exclusions"),
                 ("Metrics (held-out tickets)", "metrics"), ("Abstention", "abstention"))


def _card(card: dict[str, Any]) -> list[str | Table]:
    said: list[str | Table] = [f"[bold]Model card: {card['model']} version {card['version']}[/] "
                               f"({', '.join(card['aliases']) or 'no alias'})"]
    for title, key in CARD_SECTIONS:
        said += [f"[bold]{title}[/]", *(f"  {line}" for line in fields(card[key] or {}))]
    said += ["[bold]Metrics by class[/]", _by_class(card["metrics_by_class"]),
             "[bold]Known limits[/]", *(f"  - {line}" for line in card["known_limits"])]
    return said


def _by_class(by_class: dict[str, dict[str, Any]] | None) -> str | Table:
    if not by_class:
        return "  not recorded for this version"
    return table(("class", "precision", "recall", "f1", "support", "answered"), (
        (label, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", v["support"],
         "-" if v["answered"] is None else f"{v['answered']:.3f}")
        for label, v in by_class.items()))


def retrained(result: dict[str, Any]) -> list[str]:
    """One line per rebuilt snapshot and retrained version."""
    return [*(f"snapshot {snap['old']} -> {snap['new']}" for snap in result["snapshots"]),
            *(_retrained_model(m) for m in result["models"]),
            f"Retrained {result['count']} model version(s)."]


def _retrained_model(m: dict[str, Any]) -> str:
    check = m["non_inferiority"]
    verdict = "not worse" if check["passed"] else "failed non-inferiority"
    return (f"{m['model']} version {m['old_version']} -> {m['new_version']} ({verdict}: "
            f"accuracy {check['accuracy_new']:.3f} vs {check['accuracy_old']:.3f}, "
            f"p={check['p_value']:.3f}); aliases moved {m['aliases_moved'] or '-'}, removed "
            f"{m['aliases_removed'] or '-'}")


def register(app: typer.Typer) -> None:
    """Add this room's commands to the main app."""
    app.add_typer(train_app, name="train")
    app.add_typer(predict_app, name="predict")
    app.add_typer(eval_app, name="eval")
    app.add_typer(datasets_app, name="datasets")
    app.add_typer(models_app, name="models")
