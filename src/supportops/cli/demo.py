"""``supportops demo``: the main job of the moment on a fresh machine."""

from __future__ import annotations

import contextlib
import importlib
import secrets
import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from supportops.cli.common import JsonOpt, WorkspaceOpt
from supportops.cli.output import show, table
from supportops.errors import AlreadyExists, ConfigError, ValidationFailed
from supportops.workspace import Tenant, Workspace

#: The triage models the demo trains: model name -> the ticket field it predicts. "triage"
#: (category) is the name feedback and monitoring use by default.
DEMO_MODELS = {"triage": "category", "group": "group", "priority": "priority"}


def _generate(path: Path, tickets: int) -> Path:
    """The generated workload; Faker, which makes its people up, is the ``demo`` extra."""
    try:
        from supportops.demo import generate
    except ModuleNotFoundError as err:
        if err.name != "faker":
            raise
        raise ConfigError("The generated demo workload needs Faker: pip install "
                          "'supportops[demo]', or pass --file.") from None
    return generate(path, tickets=tickets)


def _analytics(handle: Tenant) -> dict[str, Any]:
    """A few headline figures of the analytics report."""
    report = handle.analytics.report(period="week")
    overall = report["resolution_hours"]["overall"]
    return {"resolution_median_h": _round(overall["median"], 1),
            "resolution_p90_h": _round(overall["p90"], 1),
            "reopen_rate": _round(report["reopen_rate"], 3),
            "first_contact_resolution": _round(report["first_contact_resolution"]["rate"], 3),
            "ping_pong_tickets": report["ping_pong"]["tickets"]}


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _stored_text(handle: Tenant) -> str | None:
    """The first ticket text as the log holds it: tokens where personal data was."""
    for event in handle.events.tail(200, "ticket.created"):
        text = event.payload.get("text")
        if isinstance(text, str) and "<" in text:
            return text
    return None


def _train(handle: Tenant, encoder: str) -> list[dict[str, Any]]:
    """Train each demo model that has no champion yet (a second run keeps the first's); a
    user's file without a model's field skips that model, saying why."""
    served = {v["name"] for v in handle.triage.versions() if "champion" in v["aliases"]}
    trained: list[dict[str, Any]] = []
    for name, target in DEMO_MODELS.items():
        if name in served:
            continue
        try:
            result = handle.triage.train(name, target, encoder=encoder)
        except ValidationFailed as err:
            trained.append({"model": name, "target": target, "skipped": str(err)})
            continue
        trained.append({"model": name, "target": target, "version": result["version"],
                        "accuracy": _round(result["metrics"].get("accuracy"), 3),
                        "coverage": _round(result["metrics"].get("coverage"), 3)})
    return trained


def _load_kb(handle: Tenant, path: Path | None, tmp: Path) -> dict[str, Any] | None:
    """The knowledge base (``path``: a folder of Markdown, or a Bitext CSV; else the demo's
    own articles), when the assistant is installed."""
    assist = getattr(handle, "assist", None)
    if assist is None:
        return None
    if path is None:
        from supportops.demo import write_kb

        path = write_kb(tmp / "kb")
    result: dict[str, Any] = assist.load_kb(path, "markdown" if path.is_dir() else "bitext")
    return result


def _console_key(handle: Tenant) -> str:
    """A fresh admin key to sign in to the console with (one per demo run)."""
    _, key = handle.principals.create(f"console-admin-{secrets.token_hex(3)}", "admin")
    assert key is not None  # an api_key principal always gets one
    return key


def _serve(ws: Workspace, host: str, port: int) -> None:
    """The REST API with its console when installed, else the console alone; Ctrl-C stops."""
    try:
        import uvicorn
    except ModuleNotFoundError:
        raise ConfigError("Serving the console needs the server extra: pip install "
                          "'supportops[server]', or run 'supportops demo --no-serve'.") from None
    from supportops.web import console_app

    try:  # the REST API mounts the console; without it the console is served alone
        factory = importlib.import_module("supportops.api").create_app
    except ImportError:
        factory = console_app
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(factory(ws), host=host, port=port, log_level="warning")


def demo_command(
    file: Annotated[Path | None, typer.Option(help="Ingest this file instead of generated data.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="Format of --file.")] = "csv",
    tenant: Annotated[str, typer.Option("--tenant", "-t")] = "demo",
    tickets: Annotated[int, typer.Option(min=1, max=200000, help="Generated tickets.")] = 600,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
    serve: Annotated[bool, typer.Option(
        "--serve/--no-serve", help="Start the console afterwards (Ctrl-C stops it).")] = True,
    host: Annotated[str, typer.Option(help="Address the console listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the console.")] = 8000,
    encoder: Annotated[str, typer.Option(help=(
        "Sentence encoder of the demo's triage models: none (TF-IDF only, fast), "
        "minilm-onnx-int8, static, minilm."))] = "none",
    kb: Annotated[Path | None, typer.Option(
        help="Knowledge base for the assistant: a folder of Markdown or a Bitext CSV "
             "[default: the demo's own articles].")] = None,
) -> None:
    """Create a workspace, ingest a realistic generated workload (or --file), train triage
    models, then serve the console and print its URL and a sign-in key.

    Example: supportops demo --tickets 1000
    Example: supportops demo --no-serve --json
    """
    ws = Workspace.init(workspace)
    handle = _demo_tenant(ws, tenant)
    with tempfile.TemporaryDirectory() as tmp:  # generated PII never lands in the workspace
        source = file or _generate(Path(tmp) / "demo-events.jsonl", tickets)
        report = handle.ingest(source, fmt if file else "jsonl")
        knowledge = _load_kb(handle, kb, Path(tmp))
    rows = handle.tickets.all_rows()
    summary: dict[str, Any] = {
        "workspace": str(ws.path), "tenant": tenant, "ingest": report.as_dict(),
        "events": handle.events.count(), "tickets": len(rows),
        "by_status": dict(Counter(r["status"] for r in rows).most_common()),
        "by_group": dict(Counter(r["group"] for r in rows).most_common()),
        "reassigned": sum(1 for r in rows if r["reassignment_count"]),
        "reopened": sum(1 for r in rows if r["reopen_count"]),
        "analytics": _analytics(handle),
        "stored_text_example": _stored_text(handle),
        "models": _train(handle, encoder),
        "knowledge_base": knowledge,
        "console": {"url": f"http://{host}:{port}/console/", "api_key": _console_key(handle)},
    }
    show(summary, as_json, _summary)
    if serve:
        _serve(ws, host, port)


def _demo_tenant(ws: Workspace, tenant: str) -> Tenant:
    """The demo's own tenant, created here on purpose (a second run reuses it): the one
    command that makes a tenant without 'tenants create', because making one is its job."""
    with contextlib.suppress(AlreadyExists):
        ws.create_tenant(tenant, "Demo tenant")
    return ws.tenant(tenant)


def _summary(summary: dict[str, Any]) -> list[str | Table]:
    """What was ingested and trained, a few figures, and how to sign in to the console."""
    report, stats, kb = summary["ingest"], summary["analytics"], summary["knowledge_base"]
    return [
        f"Workspace [bold]{summary['workspace']}[/], tenant [bold]{summary['tenant']}[/]: "
        f"accepted {report['accepted']} events ({report['duplicates']} duplicates, "
        f"{report['rejected']} rejected); {summary['tickets']} tickets.",
        table(("group", "tickets"), summary["by_group"].items()),
        "by status: " + ", ".join(f"{k}={v}" for k, v in summary["by_status"].items()),
        f"reassigned: {summary['reassigned']}, reopened: {summary['reopened']}",
        f"resolution hours: median {stats['resolution_median_h']}, p90 "
        f"{stats['resolution_p90_h']}; reopen rate {stats['reopen_rate']}; first-contact "
        f"resolution {stats['first_contact_resolution']}; ping-pong tickets "
        f"{stats['ping_pong_tickets']}",
        escape("As stored (pseudonymised at ingestion): " + repr(summary["stored_text_example"])),
        *([f"knowledge base: {kb['articles']} articles"] if kb else []),
        *(_trained(m) for m in summary["models"]),
        f"Console: [bold]{summary['console']['url']}[/]  sign in with the API key:",
        summary["console"]["api_key"]]


def _trained(m: dict[str, Any]) -> str:
    if "skipped" in m:
        return f"skipped {m['model']} ({m['target']}): {m['skipped']}"
    return (f"trained {m['model']} ({m['target']}) version {m['version']}: accuracy "
            f"{m['accuracy']}, coverage {m['coverage']}")
