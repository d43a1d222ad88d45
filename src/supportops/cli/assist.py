"""CLI commands of the answer assistant (``supportops assist ...``): each is one call into
``tenant.assist`` and prints its answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from supportops.cli.common import AsOpt, JsonOpt, TenantOpt, WorkspaceOpt, open_tenant
from supportops.cli.output import lines, show, table
from supportops.errors import ValidationFailed

assist_app = typer.Typer(help="Answer assistant: knowledge base, similar tickets, drafted "
                         "answers, feedback.", no_args_is_help=True)
_BATCH = 256


def register(app: typer.Typer) -> None:
    app.add_typer(assist_app, name="assist")


@assist_app.command("load-kb")
def load_kb(
    file: Annotated[Path, typer.Option("--file", help="Bitext CSV, or a folder of .md/.html.")],
    format: Annotated[str, typer.Option("--format", help="bitext or markdown.")],
    tenant: TenantOpt, workspace: WorkspaceOpt = None, acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load knowledge-base articles (the same file twice adds nothing).

    Example: supportops assist load-kb --file bitext.csv --format bitext --tenant acme --json
    """
    result = open_tenant(workspace, tenant, acting_as).assist.load_kb(file, format)
    show(result, as_json, lambda r: f"{r['articles']} article(s) in the knowledge base: "
         f"{r['added']} added, {r['updated']} updated, {r['unchanged']} unchanged, "
         f"{r['rejected']} rejected.")


def _questions(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """``(line number, {"id", "text", ...})`` or ``(line number, problem)`` per line."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError as err:
                yield number, f"line {number}: not JSON ({err})"
                continue
            if not isinstance(line, dict):
                yield number, f"line {number}: expected an object with 'id' and 'text'"
            elif not isinstance(line.get("text"), str) or not line["text"].strip():
                yield number, f"line {number}, field 'text': a non-empty string is required"
            else:
                yield number, line


@assist_app.command("answer")
def answer(
    file: Annotated[Path, typer.Option("--file", help='JSON Lines: {"id": ..., "text": ...}.')],
    tenant: TenantOpt, workspace: WorkspaceOpt = None, acting_as: AsOpt = None,
    cross_check: Annotated[bool, typer.Option(
        "--cross-check", help="Put sources with triage's predicted intent first.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Draft an answer with citations for each question; abstains with a reason.

    Example: supportops assist answer --file questions.jsonl --tenant acme --json
    """
    if not file.is_file():
        raise ValidationFailed(f"--file {str(file)!r} is not a file of JSON Lines.")
    assist = open_tenant(workspace, tenant, acting_as).assist
    batch: list[dict[str, Any]] = []
    with lines(as_json, _answered) as emit:
        for number, line in _questions(file):
            if isinstance(line, str):
                emit({"id": None, "error": line, "record": number})
                continue
            batch.append(line)
            if len(batch) >= _BATCH:
                _answer_batch(assist, batch, cross_check, emit)
                batch = []
        _answer_batch(assist, batch, cross_check, emit)


def _answer_batch(assist: Any, batch: list[dict[str, Any]], cross_check: bool,
                  emit: Callable[[dict[str, Any]], None]) -> None:
    if not batch:
        return
    drafts = assist.answer_many([b["text"] for b in batch], cross_check=cross_check)
    for line, draft in zip(batch, drafts, strict=True):
        emit({"id": line.get("id"), **draft})


def _answered(out: dict[str, Any]) -> str:
    """A tab-separated line per question: its id, answered or why not, confidence, source."""
    if "error" in out:
        return f"record {out['record']}\terror\t{out['error']}"
    first = out["citations"][0]["source_id"] if out["citations"] else "-"
    state = f"abstained ({out['reason']})" if out["abstained"] else "answered"
    return f"{out['id']}\t{state}\tconfidence {out['confidence']:.2f}\tsource {first}"


@assist_app.command("similar")
def similar(
    tenant: TenantOpt,
    ticket: Annotated[str | None, typer.Option("--ticket", help="Ticket id.")] = None,
    text: Annotated[str | None, typer.Option("--text", help="A question or ticket text.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100)] = 5,
    kind: Annotated[str | None, typer.Option("--kind", help="kb or ticket only.")] = None,
    category: Annotated[str | None, typer.Option("--category")] = None,
    language: Annotated[str | None, typer.Option("--language")] = None,
    since: Annotated[datetime | None, typer.Option("--since", help="Documents from.")] = None,
    until: Annotated[datetime | None, typer.Option("--until", help="...before.")] = None,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Tickets and articles like a ticket or a text, best first.

    Example: supportops assist similar --text "my parcel never came" --limit 3 --tenant acme --json
    """
    rows = open_tenant(workspace, tenant, acting_as).assist.similar(
        ticket_id=ticket, text=text, limit=limit, kind=kind, category=category,
        language=language, since=_utc(since), until=_utc(until))
    show(rows, as_json, lambda found: table(
        ("score", "kind", "source", "title"),
        ((f"{r['score']:.3f}", r["kind"], r["source_id"], r["title"]) for r in found)))


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@assist_app.command("feedback")
def feedback(
    answer_id: Annotated[str, typer.Option("--answer-id", help="The draft's answer_id.")],
    verdict: Annotated[str, typer.Option("--verdict", help="used, edited or rejected.")],
    tenant: TenantOpt,
    comment: Annotated[str | None, typer.Option("--comment")] = None,
    workspace: WorkspaceOpt = None, acting_as: AsOpt = None, as_json: JsonOpt = False,
) -> None:
    """Mark a draft used, edited or rejected (stored as an event with model and index version).

    Example: supportops assist feedback --answer-id 6f1c... --verdict used --tenant acme
    """
    result = open_tenant(workspace, tenant, acting_as).assist.feedback(answer_id, verdict,
                                                                        comment)
    show(result, as_json, lambda r: f"Recorded: {verdict} for answer {answer_id}.")


@assist_app.command("feedback-counts")
def feedback_counts(
    tenant: TenantOpt, workspace: WorkspaceOpt = None, acting_as: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Verdicts counted per cited article or ticket and per index version.

    Example: supportops assist feedback-counts --tenant acme --json
    """
    result = open_tenant(workspace, tenant, acting_as).assist.feedback_counts()
    show(result, as_json, lambda r: [_verdicts("source", r["by_source"]),
                                     _verdicts("index version", r["by_version"])])


def _verdicts(what: str, counted: dict[str, dict[str, int]]) -> Table:
    from supportops.assist.feedback import VERDICTS

    return table((what, *VERDICTS), ((key, *(c.get(v, 0) for v in VERDICTS))
                                     for key, c in counted.items()))
