"""One composition root: every event type is known from a bare ``import supportops``, a type
declared with a ticket is refused without one, and no room fills a registry of another room
at import (nor keeps an import for its side effects)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from supportops import Tenant
from supportops.composition import CATALOGUE, ERASURE_HOOKS, PROJECTORS
from supportops.events.catalogue import Catalogue, EventType
from supportops.events.ingest import Parsed, ingest, validate_draft
from supportops.events.schemas import EventDraft
from supportops.monitor.event_types import TriageFeedback
from tests.helpers import event, write_jsonl

SRC = Path(__file__).resolve().parents[1] / "src" / "supportops"
#: Every room's types, as its own module names them.
EXPECTED = {
    "ticket.created", "message.added", "ticket.status_changed", "ticket.assigned",
    "ticket.priority_changed", "ticket.categorized", "ticket.resolved", "ticket.reopened",
    "ticket.closed", "ticket.updated", "satisfaction.rated", "kb_article.published",
    "kb_article.updated", "privacy.opted_out", "privacy.opted_in", "triage.feedback",
    "monitor.alarm", "assist.feedback"}
#: Names of the registries the composition root replaced; none may come back.
REMOVED = ("register_event_type", "register_classes", "register_projector",
           "register_erasure_hook", "for_engine", "env_for", "TICKET_TYPES",
           "_INSTALLED", "_PROJECTORS", "_HOOKS", "_ENVS", "_ENCODERS", "_ADAPTERS", "DECLARED",
           "seal_content", "install_index")


def test_a_fresh_interpreter_knows_every_event_type() -> None:
    """Nothing but ``import supportops``: the catalogue, the ticket flags and the field classes
    are all there, and a workspace's ingest validates with them."""
    script = (
        "import json, supportops\n"
        "c = supportops.composition.CATALOGUE\n"
        "print(json.dumps({'names': c.names(),"
        " 'ticket': sorted(n for n in c.names() if c.needs_ticket(n)),"
        " 'classes': sorted(c.classes('triage.feedback'))}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(found["names"]) == EXPECTED
    assert "triage.feedback" in found["ticket"] and "ticket.created" in found["ticket"]
    assert not {"assist.feedback", "monitor.alarm", "privacy.opted_out",
                "kb_article.published"} & set(found["ticket"])
    assert {"target", "action", "state.status"} <= set(found["classes"])


def test_the_workspace_composes_every_room(tenant: Tenant) -> None:
    composition = tenant.workspace.composition
    assert tenant.db.wiring is composition and composition.catalogue is CATALOGUE
    assert set(composition.erasure_hooks) == {"assist_documents", "dataset_snapshots",
                                              "event_embeddings", "prediction_records"}
    assert composition.erasure_hooks == ERASURE_HOOKS and "assist" in PROJECTORS
    assert composition.cipher is not None and composition.index is not None


def _feedback(ticket_id: str | None) -> EventDraft:
    body = {"model_name": "triage", "version": "1", "target": "category", "final": "billing",
            "action": "accept"}
    return EventDraft("triage.feedback", datetime.now(UTC), body, "fb-1", ticket_id=ticket_id)


def test_a_ticket_type_of_another_room_needs_a_ticket_id(plain_tenant: Tenant,
                                                        tmp_path: Path) -> None:
    """``triage.feedback`` is declared with a ticket by the monitoring room: ingestion
    refuses it without ``ticket_id`` (and takes it with one)."""
    tenant = plain_tenant
    report = ingest(tenant.db, tenant.ctx, [Parsed(1, [_feedback(None)])])
    assert report.accepted == 0 and report.rejected == 1
    assert (report.errors[0].field, report.errors[0].message) == (
        "ticket_id", "a 'triage.feedback' event needs a ticket_id")
    created = event("ticket.created", "T-1", "2024-01-02T09:00:00Z", status="new")
    assert tenant.ingest(write_jsonl(tmp_path / "t.jsonl", [created]), "jsonl").accepted == 1
    assert ingest(tenant.db, tenant.ctx, [Parsed(1, [_feedback("T-1")])]).accepted == 1


def test_any_declared_ticket_type_needs_a_ticket_id() -> None:
    """Whatever declares it, and whenever: the flag travels with the type's value."""
    late = Catalogue.of(CATALOGUE.types.values(),
                        (EventType("test.ticket_note", TriageFeedback, ticket=True),))
    assert validate_draft(1, _feedback(None), CATALOGUE) is not None
    draft = _feedback(None)
    draft.type = "test.ticket_note"
    problem = validate_draft(1, draft, late)
    assert problem is not None and problem.field == "ticket_id"
    with pytest.raises(ValueError, match="declared twice"):
        Catalogue.of(CATALOGUE.types.values(), CATALOGUE.types.values())


def _module_level_calls(tree: ast.Module) -> list[tuple[int, str]]:
    """Calls made when a module is imported (statements at its top level)."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                func = sub.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                found.append((sub.lineno, name))
    return found


def test_no_room_registers_anything_at_import() -> None:
    """No module calls a ``register*``/``install*`` function at import, none keeps an import
    only for its side effects, and none of the replaced registries comes back. (The CLI's
    ``main`` adds its own command groups to its Typer app: a face assembling itself.)"""
    bad: list[str] = []
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts or path.relative_to(SRC).as_posix() == "cli/main.py":
            continue
        text = path.read_text()
        where = path.relative_to(SRC)
        bad += [f"{where}:{line} calls {name} at import"
                for line, name in _module_level_calls(ast.parse(text))
                if name.startswith(("register", "install"))]
        bad += [f"{where}:{n} keeps an import for its side effects"
                for n, line in enumerate(text.splitlines(), 1)
                if line.startswith("import ") and "noqa: F401" in line]
        names = {node.id for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Name)}
        names |= {node.attr for node in ast.walk(ast.parse(text))
                  if isinstance(node, ast.Attribute)}
        names |= {f.name for f in ast.walk(ast.parse(text))
                  if isinstance(f, ast.FunctionDef)}
        bad += [f"{where} uses {name}" for name in REMOVED if name in names]
    assert bad == []


def test_no_module_level_registry_is_filled_from_a_function() -> None:
    """A module-level dict, list or set that a function of the module writes into (a
    registry) is refused, bar these, which no room fills for another."""
    allowed = {
        ("privacy/domain_terms.py", "_CACHE"),  # the module's own cache of vocabularies
        ("ml/registry.py", "_RELOCATED"),  # the module's own memo of stores it relocated
        # a deployment's external KMS, plugged in by the deployer's code, never by a room
        ("privacy/keys.py", "_PROVIDERS"),
    }
    bad = []
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        where = str(path.relative_to(SRC))
        mutable = {t.id for node in tree.body if isinstance(node, ast.Assign | ast.AnnAssign)
                   for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                   if isinstance(t, ast.Name) and isinstance(node.value, ast.Dict | ast.List |
                                                             ast.Set | ast.Call)}
        for func in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            for sub in ast.walk(func):
                target = _written(sub)
                if target in mutable and (where, target) not in allowed:
                    bad.append(f"{where}:{sub.lineno} {func.name} fills {target}")
    assert bad == []


def _written(node: ast.AST) -> str | None:
    """The module-level name ``node`` writes into (``X[k] = v``, ``X.update(...)``...)."""
    if isinstance(node, ast.Assign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for t in targets:
            if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                return t.value.id
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.attr in ("update", "append", "add", "setdefault", "pop", "extend")):
        return node.func.value.id
    return None
