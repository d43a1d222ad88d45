"""The ``monitor report`` contract: windows of N consecutive lines, input drift on embeddings,
estimated and actual accuracy, abstention; nothing of the stream is stored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from supportops import Tenant, ValidationFailed
from supportops.ml.embeddings import export_onnx_int8
from tests.helpers import event, write_jsonl
from tests.ml.test_lifecycle import GREETINGS, TOPICS, _cli
from tests.monitor.test_feedback import CUSTOMERS, ingest_topics

OFF_TOPIC = ["what is the best recipe for lemon cake", "how do I prune tomato plants",
             "which football team won the league", "recommend a novel about the sea",
             "how long should pasta boil", "is it going to rain in Lisbon tomorrow",
             "best hiking trails in the Alps", "how to tune a guitar string",
             "what temperature to bake bread", "tips for painting a bedroom wall"]
KEYS = {"start", "end", "n", "drift_score", "drift", "estimated_accuracy", "accuracy",
        "abstention_rate"}


def _seed_encoder(tenant: Tenant, tmp_path: Path) -> None:
    """Build the int8 encoder once per test session folder and copy it in (the workspace
    would otherwise build the very same file itself)."""
    shared = tmp_path.parent.parent / "monitor-encoder"
    built = export_onnx_int8(shared)
    target = tenant.path / "artifacts" / "encoders"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(built, target / built.name)


def _stream(tmp_path: Path) -> tuple[Path, list[dict[str, str]]]:
    inside = [{"id": f"in-{i}", "text": f"{g}{t}", "label": topic}
              for topic, texts in TOPICS.items() for g in GREETINGS[:2]
              for i, t in enumerate(texts)][:20]
    rng = np.random.default_rng(0)
    inside = [inside[i] for i in rng.permutation(len(inside))]
    outside = [{"id": f"out-{i}", "text": f"{g}{t}"} for i, (g, t) in
               enumerate((g, t) for g in ("", "please, ") for t in OFF_TOPIC)]
    lines = [*inside, *outside]
    return write_jsonl(tmp_path / "stream.jsonl", lines), lines  # type: ignore[arg-type]


def test_report_windows_drift_and_accuracy(tenant: Tenant, tmp_path: Path) -> None:
    ingest_topics(tenant, tmp_path)
    _seed_encoder(tenant, tmp_path)
    tenant.triage.train("intents", "category", encoder="none")
    stream, lines = _stream(tmp_path)
    events_before = tenant.events.count()

    out = json.loads(_cli(tenant.workspace, "monitor", "report", "--name", "intents",
                          "--file", str(stream), "--window", "20", "--json"))
    assert (out["model"], out["version"]) == ("intents", "1")
    first, second = out["windows"]
    assert set(first) >= KEYS and set(second) >= KEYS
    assert (first["start"], first["end"], first["n"]) == (0, 20, 20)
    assert (second["start"], second["end"], second["n"]) == (20, 40, 20)
    assert not first["drift"] and second["drift"]  # unlike anything in training
    assert second["drift_score"] > first["drift_score"]
    assert second["accuracy"] is None  # no labels in that window
    model = tenant.triage.service.load("intents")[0]
    predicted = model.predict([{"text": x["text"], "open_fields": {}} for x in lines[:20]])
    assert first["accuracy"] == round(float(np.mean(
        [p == x["label"] for p, x in zip(predicted, lines[:20], strict=True)])), 4)
    for w in (first, second):
        assert 0 <= w["estimated_accuracy"] <= 1 and 0 <= w["abstention_rate"] <= 1
        assert w["label_drift"] in (True, False)  # reported apart from "drift"
    assert tenant.events.count() == events_before  # the stream was not stored


def test_partial_last_window_and_bad_lines(tenant: Tenant, tmp_path: Path) -> None:
    ingest_topics(tenant, tmp_path)
    _seed_encoder(tenant, tmp_path)
    tenant.triage.train("intents", "category", encoder="none")
    stream, _ = _stream(tmp_path)
    windows = tenant.monitor.report("intents", stream, 15)["windows"]
    assert [(w["start"], w["end"], w["n"]) for w in windows] == [(0, 15, 15), (15, 30, 15),
                                                                (30, 40, 10)]
    assert all(w["field_drift"] == {} for w in windows)  # the lines carry no field
    lines = [{"id": i, "text": "where is my refund", "channel": "chat" if i < 10 else "email"}
             for i in range(20)]
    by_channel = tenant.monitor.report("intents", write_jsonl(tmp_path / "ch.jsonl", lines),
                                       10)["windows"]
    assert by_channel[0]["field_drift"]["channel"] == {"js": 0.0, "psi": 0.0, "drift": False}
    assert by_channel[1]["field_drift"]["channel"]["drift"]  # a channel never seen
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": 1, "text": "fine"}, {"id": 2, "txt": "x"}])
    with pytest.raises(ValidationFailed, match=r"bad.jsonl: line 2: field 'text' must be a "
                                               r"string. Got nothing"):
        tenant.monitor.report("intents", bad, 10)
    with pytest.raises(ValidationFailed, match="'--window' must be a positive"):
        tenant.monitor.report("intents", stream, 0)


#: A real Banking77 intent that is no valid code (the '?'): ingestion stores it as a token.
ODD_LABEL = "reverted_card_payment?"


def test_report_compares_labels_as_ingestion_stores_them(tenant: Tenant, tmp_path: Path) -> None:
    """A stream label that ingestion tokenises is compared in its stored (token) form, so a
    correct prediction of that intent counts as correct."""
    names = {topic: ODD_LABEL if topic == "refund" else topic for topic in TOPICS}
    lines = [event("ticket.created", f"T-{topic}-{i}", f"2024-01-01T10:{i:02d}:00Z",
                   subject=CUSTOMERS[i % len(CUSTOMERS)], text=text, category=names[topic],
                   channel="chat")
             for topic, texts in TOPICS.items()
             for i, text in enumerate(f"{g}{t}" for g in GREETINGS for t in texts)]
    tenant.ingest(write_jsonl(tmp_path / "tickets.jsonl", lines), "jsonl")
    _seed_encoder(tenant, tmp_path)
    tenant.triage.train("intents", "category", encoder="none")
    model = tenant.triage.service.load("intents")[0]
    tokens = [c for c in model.classes_ if str(c).startswith("<CODE_")]
    assert len(tokens) == 1 and ODD_LABEL not in model.classes_  # stored as a token
    stored = {**{t: t for t in TOPICS}, ODD_LABEL: str(tokens[0])}
    stream = [{"id": f"s-{i}", "text": f"{g}{t}", "label": names[topic]}
              for topic, texts in TOPICS.items() for g in GREETINGS[:2]
              for i, t in enumerate(texts)]
    path = write_jsonl(tmp_path / "labelled.jsonl", stream)  # type: ignore[arg-type]

    out = json.loads(_cli(tenant.workspace, "monitor", "report", "--name", "intents",
                          "--file", str(path), "--window", str(len(stream)), "--json"))
    predicted = model.predict([{"text": x["text"], "open_fields": {}} for x in stream])
    right = [p == stored[x["label"]] for p, x in zip(predicted, stream, strict=True)]
    odd_right = sum(r for r, x in zip(right, stream, strict=True) if x["label"] == ODD_LABEL)
    assert odd_right >= 5  # the tokenised intent is predicted, so the raw label would miss it
    assert out["windows"][0]["accuracy"] == round(float(np.mean(right)), 4)
