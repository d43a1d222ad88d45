"""Triage feedback: an agent's verdict is an event, and the final label it decides enters the
next snapshot, while the model's own write-back never does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supportops import NotFound, Tenant, ValidationFailed
from supportops.datasets.snapshots import create_snapshot
from tests.helpers import event, write_jsonl
from tests.ml.test_lifecycle import GREETINGS, TOPICS, _cli

CUSTOMERS = ["cust-1", "cust-2", "cust-3", "cust-4"]


def ingest_topics(tenant: Tenant, tmp_path: Path, extra: int = 0) -> None:
    """The lifecycle tests' small intent set, plus ``extra`` unlabelled tickets U-0.."""
    lines = [event("ticket.created", f"T-{topic}-{i}", f"2024-01-01T10:{i:02d}:00Z",
                   subject=CUSTOMERS[i % len(CUSTOMERS)], text=text, category=topic,
                   channel="chat")
             for topic, texts in TOPICS.items()
             for i, text in enumerate(f"{g}{t}" for g in GREETINGS for t in texts)]
    lines += [event("ticket.created", f"U-{i}", "2024-02-01T10:00:00Z", subject="cust-9",
                    text="my card is lost, please block it") for i in range(extra)]
    tenant.ingest(write_jsonl(tmp_path / "tickets.jsonl", lines), "jsonl")


def _labels(tenant: Tenant) -> dict[str, str | None]:
    ws = tenant.workspace
    snap = create_snapshot(ws.db, tenant.ctx, ws.artifacts, "check")
    return {r["ticket_id"]: r["category"] for r in snap.read().to_pylist()}


def test_feedback_labels_flow_into_the_next_snapshot(tenant: Tenant, tmp_path: Path) -> None:
    ingest_topics(tenant, tmp_path, extra=2)
    models = tenant.triage.service
    models.train("intents", "category", encoder="none")
    served = models.load("intents")[0]
    records = served.predict_records(["U-0", "U-1"], [
        {"text": "my card is lost, please block it", "open_fields": {}}] * 2)
    assert models.write_back("intents", "1", "category", records) == 2
    assert _labels(tenant)["U-0"] is None  # the model's guess is not a label

    accepted = tenant.triage.feedback("U-0", name="intents", final="card_lost",
                                      predicted="card_lost", action="accept")
    corrected = tenant.triage.feedback("U-1", name="intents", final="refund",
                                       predicted="card_lost", action="correct")
    assert (accepted["version"], accepted["target"], accepted["action"]) == ("1", "category",
                                                                             "accept")
    labels = _labels(tenant)
    assert (labels["U-0"], labels["U-1"]) == ("card_lost", "refund")
    (fb,) = [e for e in tenant.events.tail(10, "triage.feedback") if e.ticket_id == "U-1"]
    assert fb.payload == {"model_name": "intents", "version": "1", "target": "category",
                          "predicted": "card_lost", "final": "refund", "action": "correct"}
    assert corrected["event_id"] == fb.id
    assert tenant.tickets.get("U-1")["category"] == "refund"


@pytest.mark.parametrize(("args", "message"), [
    ({"final": "refund", "predicted": "card_lost", "action": "accept"},
     "accepts prediction 'card_lost' but names final label 'refund'"),
    ({"final": "refund", "predicted": "refund", "action": "correct"}, "same label"),
    ({"final": "refund", "action": "maybe"}, "must be accept or correct. Got 'maybe'"),
    ({"final": ""}, "needs a 'final' label"),
])
def test_contradictory_feedback_is_refused(tenant: Tenant, args: dict[str, str],
                                           message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        tenant.triage.feedback("T-1", name="intents", **args)


def test_feedback_needs_a_stored_ticket_and_a_model(tenant: Tenant, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="has no champion"):
        tenant.triage.feedback("T-1", name="intents", final="refund")
    ingest_topics(tenant, tmp_path)
    tenant.triage.train("intents", "category", encoder="none")
    with pytest.raises(NotFound, match="Ticket 'nope' does not exist"):
        tenant.triage.feedback("nope", name="intents", final="refund")


def test_feedback_cli(tenant: Tenant, tmp_path: Path) -> None:
    ingest_topics(tenant, tmp_path, extra=1)
    tenant.triage.train("intents", "category", encoder="none")
    out = _cli(tenant.workspace, "triage", "feedback", "U-0", "--name", "intents", "--final",
               "refund", "--predicted", "card_lost", "--action", "correct", "--json")
    assert json.loads(out)["final"] == "refund" and json.loads(out)["version"] == "1"
    assert _labels(tenant)["U-0"] == "refund"
