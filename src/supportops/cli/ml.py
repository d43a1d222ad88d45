"""CLI of the ML lifecycle: datasets, models, and train / predict / eval for triage."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from supportops.cli.common import (
    AsOpt,
    JsonOpt,
    TenantOpt,
    WorkspaceOpt,
    emit_json,
    emit_jsonl,
    open_tenant,
)
from supportops.errors import ValidationFailed

MlTenantOpt = Annotated[str, typer.Option(
    "--tenant", "-t", envvar="SUPPORTOPS_TENANT", help="Tenant id (created if missing).")]
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
    tenant: MlTenantOpt = "default",
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
    --name intents --json
    """
    handle = open_tenant(workspace, tenant, acting_as, create=True)
    result = handle.train_triage(data, fmt, target, name, kind=kind, encoder=encoder,
                                 precision=precision)
    out = {"model": result["model"], "version": result["version"], "metrics": result["metrics"],
           "snapshot": result["snapshot"], "digest": result["digest"]}
    if as_json:
        emit_json(out)
        return
    console.print(f"Model [bold]{name}[/] version {result['version']} is champion "
                  f"(snapshot {result['snapshot']}).")
    console.print(_headline(result["metrics"]))
    for key, value in result["metrics"].items():
        console.print(f"  {key}: {value}")


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


def _read_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as err:
                raise ValidationFailed(f"{path}: line {number} is not JSON ({err}).") from None
            if not isinstance(obj, dict) or ("text" not in obj and len(obj) <= 1):
                raise ValidationFailed(f"{path}: line {number} needs an object with 'id' and "
                                       f"'text' (or structured fields).")
            lines.append(obj)
    return lines


@predict_app.command("triage")
def predict_triage(
    name: NameOpt,
    file: Annotated[Path, typer.Option("--file", help='JSON Lines: {"id": ..., "text": ...}.')],
    tenant: MlTenantOpt = "default",
    write_back: Annotated[bool, typer.Option(
        help="Record confident predictions on existing tickets as events.")] = False,
    batch: Annotated[int, typer.Option(min=1, help="Lines per batch.")] = 1024,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Predict with the champion; one JSON line per input line.

    Example: supportops predict triage --name intents --file new.jsonl --json
    """
    handle = open_tenant(workspace, tenant, acting_as)
    server = handle.triage_server(name)
    lines = _read_lines(file)
    table = Table("id", "label", "confidence", "abstained")
    for start in range(0, len(lines), batch):
        records = server.predict(lines[start : start + batch])
        if write_back and server.version is not None:
            handle.triage_models.write_back(name, server.version, server.target, records)
        for record in records:
            if as_json:
                emit_jsonl(record)
            else:
                table.add_row(str(record["id"]), str(record["label"]),
                              f"{record['confidence']:.3f}", str(record["abstained"]))
    if as_json:
        sys.stdout.flush()
    else:
        console.print(table)


@eval_app.command("triage")
def eval_triage(
    name: NameOpt,
    data: Annotated[Path, typer.Option("--data", help="Labelled file (not ingested).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="Its format.")],
    tenant: MlTenantOpt = "default",
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Accuracy, macro-F1 and coverage at precision 0.90/0.95/0.99 of the champion.

    Example: supportops eval triage --name intents --data test.csv --format banking77 --json
    """
    result = open_tenant(workspace, tenant, acting_as).evaluate_triage(name, data, fmt)
    if as_json:
        emit_json(result)
        return
    console.print(f"Model [bold]{name}[/] version {result['version']} on {data.name}:")
    for key, value in result["metrics"].items():
        console.print(f"  {key}: {value}")


@datasets_app.command("create")
def datasets_create(
    name: Annotated[str, typer.Option(help="Snapshot name.")],
    tenant: MlTenantOpt = "default",
    require: Annotated[str | None, typer.Option(help="Keep only tickets with this label.")] = None,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Snapshot the tenant's log now as Parquet (opted-out and erased subjects excluded).

    Example: supportops datasets create --name weekly --require category --tenant acme
    """
    snap = open_tenant(workspace, tenant, acting_as).create_dataset(name, require)
    if as_json:
        emit_json(snap.as_dict())
    else:
        console.print(f"Snapshot [bold]{snap.id}[/]: {snap.row_count} rows at log position "
                      f"{snap.log_position}, digest {snap.digest[:16]}...")


@datasets_app.command("list")
def datasets_list(
    tenant: MlTenantOpt = "default",
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """List dataset snapshots.

    Example: supportops datasets list --tenant acme --json
    """
    snaps = open_tenant(workspace, tenant, acting_as).datasets()
    if as_json:
        emit_json({"data": [s.as_dict() for s in snaps], "count": len(snaps)})
        return
    table = Table("id", "name", "rows", "log position", "state", "digest")
    for s in snaps:
        table.add_row(s.id, s.name, str(s.row_count), str(s.log_position), s.state, s.digest[:16])
    console.print(table)


@datasets_app.command("show")
def datasets_show(
    snapshot_id: Annotated[str, typer.Argument(help="Snapshot id.")],
    tenant: MlTenantOpt = "default",
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Show one snapshot: digest, log position, exclusions, file.

    Example: supportops datasets show snap-1a2b3c4d5e6f --tenant acme
    """
    snap = open_tenant(workspace, tenant, acting_as).dataset(snapshot_id).as_dict()
    if as_json:
        emit_json(snap)
    else:
        for key, value in snap.items():
            console.print(f"[bold]{key}[/]: {value}")


@datasets_app.command("rebuild-flagged")
def datasets_rebuild_flagged(
    tenant: MlTenantOpt = "default",
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Rebuild the snapshots that an erasure flagged, without the erased data.

    Example: supportops datasets rebuild-flagged --tenant acme --json
    """
    done = open_tenant(workspace, tenant, acting_as).rebuild_flagged_datasets()
    if as_json:
        emit_json({"rebuilt": done, "count": len(done)})
    else:
        console.print(f"Rebuilt {len(done)} snapshot(s).")


@models_app.command("list")
def models_list(
    tenant: MlTenantOpt = "default",
    name: Annotated[str | None, typer.Option("--name", "-n", help="Only this model.")] = None,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """List model versions with aliases, metrics, snapshot and erasure flags.

    Example: supportops models list --tenant acme --json
    """
    versions = open_tenant(workspace, tenant, acting_as).triage_models.models(name)
    if as_json:
        emit_json({"data": versions, "count": len(versions)})
        return
    table = Table("model", "version", "aliases", "accuracy", "snapshot", "erased data")
    for v in versions:
        table.add_row(v["name"], v["version"], ",".join(v["aliases"]),
                      f"{v['metrics'].get('accuracy', float('nan')):.4f}", str(v["snapshot"]),
                      str(v["contains_erased_data"]))
    console.print(table)


@models_app.command("promote")
def models_promote(
    name: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[str, typer.Argument(help="Version to promote.")],
    alias: Annotated[str, typer.Option(help="champion or challenger.")] = "champion",
    force: Annotated[bool, typer.Option(
        "--force", help="Promote to champion even when the version is not significantly "
        "better than the champion on feedback (exact McNemar, p < 0.05).")] = False,
    tenant: MlTenantOpt = "default",
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Point an alias at a version (audited, with the comparison that allowed it); serving
    switches at once. A new champion must be significantly better than the current one on
    feedback-labelled tickets unless --force.

    Example: supportops models promote intents 3 --tenant acme
    """
    result = open_tenant(workspace, tenant, acting_as).monitor.promote(
        name, version, alias=alias, force=force)
    if as_json:
        emit_json(result)
    else:
        console.print(f"{name}@{alias} -> version {version} (was {result['previous']}).")


@models_app.command("rollback")
def models_rollback(
    name: Annotated[str, typer.Argument(help="Model name.")],
    tenant: MlTenantOpt = "default",
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Make the previous champion champion again (audited).

    Example: supportops models rollback intents --tenant acme
    """
    result = open_tenant(workspace, tenant, acting_as).triage_models.rollback(name)
    if as_json:
        emit_json(result)
    else:
        console.print(f"{name}@champion -> version {result['version']} "
                      f"(was {result['previous']}).")


@models_app.command("retrain-flagged")
def models_retrain_flagged(
    tenant: MlTenantOpt = "default",
    margin: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Largest accuracy loss that still counts as not worse.")] = 0.02,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Rebuild flagged snapshots, retrain every version holding erased data, move its aliases
    to the replacement when it is not significantly worse, delete the old artefacts (audited).

    Example: supportops models retrain-flagged --tenant acme --json
    """
    result = open_tenant(workspace, tenant, acting_as).triage_models.retrain_flagged(margin)
    if as_json:
        emit_json(result)
        return
    print_retrained(result)


@models_app.command("reproduce")
def models_reproduce(
    name: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[str, typer.Argument(help="Version to rebuild.")],
    tenant: TenantOpt,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Rebuild a version from its lineage (its snapshot, its recorded parameters) in a
    scratch area and compare it with what was recorded; exit 0 when it matches, 1 when not.

    Example: supportops models reproduce intents 1 --tenant acme --json
    """
    result = open_tenant(workspace, tenant, acting_as).triage_models.reproduce(name, version)
    if as_json:
        emit_json({k: result[k] for k in ("model", "version", "match", "metrics",
                                          "differences", "state_digest", "environment")})
    else:
        verdict = "matches" if result["match"] else "does NOT match"
        console.print(f"{name} version {version} rebuilt from {result['snapshot']} {verdict} "
                      f"its record (state digest {result['state_digest'][:16]}).")
        for d in result["differences"] + result["environment"]:
            console.print(f"  {d['field']}: recorded {d['recorded']!r}, now {d['rebuilt']!r}",
                          soft_wrap=True)
    raise typer.Exit(0 if result["match"] else 1)


@models_app.command("card")
def models_card(
    name: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[str, typer.Argument(help="Version.")],
    tenant: TenantOpt,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """The model card of a version: data, exclusions, metrics by class, abstention, known
    limits.

    Example: supportops models card intents 1 --tenant acme
    """
    card = open_tenant(workspace, tenant, acting_as).triage_models.card(name, version)
    if as_json:
        emit_json(card)
        return
    console.print(f"[bold]Model card: {name} version {version}[/] "
                  f"({', '.join(card['aliases']) or 'no alias'})")
    for title, key in (("Task", "task"), ("Data", "data"), ("Exclusions", "exclusions"),
                       ("Metrics (held-out tickets)", "metrics"), ("Abstention", "abstention")):
        console.print(f"[bold]{title}[/]")
        for field, value in (card[key] or {}).items():
            console.print(f"  {field}: {value}")
    _print_by_class(card["metrics_by_class"])
    console.print("[bold]Known limits[/]")
    for line in card["known_limits"]:
        console.print(f"  - {line}")


def _print_by_class(by_class: dict[str, dict[str, Any]] | None) -> None:
    console.print("[bold]Metrics by class[/]")
    if not by_class:
        console.print("  not recorded for this version")
        return
    table = Table("class", "precision", "recall", "f1", "support", "answered")
    for label, v in by_class.items():
        table.add_row(label, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}",
                      str(v["support"]), "-" if v["answered"] is None else f"{v['answered']:.3f}")
    console.print(table)


def print_retrained(result: dict[str, Any]) -> None:
    """One line per rebuilt snapshot and retrained version."""
    for snap in result["snapshots"]:
        console.print(f"snapshot {snap['old']} -> {snap['new']}")
    for m in result["models"]:
        check = m["non_inferiority"]
        verdict = "not worse" if check["passed"] else "failed non-inferiority"
        console.print(f"{m['model']} version {m['old_version']} -> {m['new_version']} "
                      f"({verdict}: accuracy {check['accuracy_new']:.3f} vs "
                      f"{check['accuracy_old']:.3f}, p={check['p_value']:.3f}); aliases moved "
                      f"{m['aliases_moved'] or '-'}, removed {m['aliases_removed'] or '-'}")
    console.print(f"Retrained {result['count']} model version(s).")


def register(app: typer.Typer) -> None:
    """Add this room's commands to the main app."""
    app.add_typer(train_app, name="train")
    app.add_typer(predict_app, name="predict")
    app.add_typer(eval_app, name="eval")
    app.add_typer(datasets_app, name="datasets")
    app.add_typer(models_app, name="models")
