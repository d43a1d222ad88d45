"""Model write-backs are marked (model and version, every target) and never become labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportops import Tenant, ValidationFailed
from supportops.datasets.snapshots import LABELS, create_snapshot
from supportops.events import log
from supportops.events.ingest import validate_draft
from supportops.events.schemas import EventDraft
from tests.helpers import event, write_jsonl

T0 = "2024-05-01T09:00:00Z"
TARGETS = ("category", "group", "priority", "status", "channel", "assignee", "sentiment")


def _tickets(tenant: Tenant, tmp_path: Path) -> list[str]:
    lines = []
    for i in range(4):
        tid = f"W-{i}"
        lines += [
            event("ticket.created", tid, T0, text=f"ticket {i}", category="billing",
                  priority="low", group="tier1", channel="email", assignee="ann"),
            event("ticket.resolved", tid, "2024-05-01T10:00:00Z"),
            event("satisfaction.rated", tid, "2024-05-01T11:00:00Z", score=5),
        ]
    tenant.ingest(write_jsonl(tmp_path / "w.jsonl", lines), format="jsonl")
    return [f"W-{i}" for i in range(4)]


def _digest(tenant: Tenant, name: str) -> tuple[str, int]:
    ws = tenant.workspace
    snap = create_snapshot(ws.db, tenant.ctx, ws.artifacts, name)
    return snap.digest, snap.row_count


@pytest.mark.parametrize("target", TARGETS)
def test_each_target_is_marked_and_ignored_by_snapshots(
    tenant: Tenant, tmp_path: Path, target: str
) -> None:
    ids = _tickets(tenant, tmp_path)
    before = _digest(tenant, "before")
    guesses = [{"id": t, "label": f"guess-{target}", "confidence": 0.9, "abstained": False}
               for t in ids[:3]]
    guesses.append({"id": ids[3], "label": None, "confidence": 0.2, "abstained": True})
    written = tenant.triage.service.write_back("router", "7", target, guesses)
    assert written == 3
    events = [e for e in log.tail(tenant.workspace.db, tenant.ctx, 3)]
    assert {e.ticket_id for e in events} == set(ids[:3])
    for e in events:
        assert (e.payload["model"], e.payload["model_version"]) == ("router", "7")
        assert e.payload["confidence"] == 0.9
    after = _digest(tenant, "after")
    assert after == before  # the model's guesses are not labels
    assert target in LABELS


def test_unknown_target_is_refused(tenant: Tenant) -> None:
    with pytest.raises(ValidationFailed, match="targets: category"):
        tenant.triage.service.write_back("router", "7", "mood", [])


@pytest.mark.parametrize(("kind", "payload"), [
    ("ticket.categorized", {"category": "x"}), ("ticket.assigned", {"group": "x"}),
    ("ticket.priority_changed", {"priority": "x"}), ("ticket.status_changed", {"status": "x"}),
    ("ticket.updated", {"state": {"channel": "x"}}),
])
def test_a_half_mark_is_refused(kind: str, payload: dict[str, object]) -> None:
    from datetime import UTC, datetime

    half = EventDraft(kind, datetime.now(UTC), {**payload, "model": "router"}, "k", ticket_id="T")
    problem = validate_draft(1, half)
    assert problem is not None and "model_version" in problem.message
    whole = EventDraft(kind, datetime.now(UTC),
                       {**payload, "model": "router", "model_version": "1"}, "k", ticket_id="T")
    assert validate_draft(1, whole) is None
