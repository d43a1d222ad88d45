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
from tests.helpers import write_jsonl
from tests.ml.test_lifecycle import GREETINGS, TOPICS, _cli
from tests.monitor.test_feedback import ingest_topics

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
    tenant.triage_models.train("intents", "category", encoder="none")
    stream, lines = _stream(tmp_path)
    events_before = tenant.events_count()

    out = json.loads(_cli(tenant.workspace, "monitor", "report", "--name", "intents",
                          "--file", str(stream), "--window", "20", "--json"))
    assert (out["model"], out["version"]) == ("intents", "1")
    first, second = out["windows"]
    assert KEYS <= set(first) and KEYS <= set(second)
    assert (first["start"], first["end"], first["n"]) == (0, 20, 20)
    assert (second["start"], second["end"], second["n"]) == (20, 40, 20)
    assert not first["drift"] and second["drift"]  # unlike anything in training
    assert second["drift_score"] > first["drift_score"]
    assert second["accuracy"] is None  # no labels in that window
    model = tenant.triage_models.load("intents")[0]
    predicted = model.predict([{"text": x["text"], "open_fields": {}} for x in lines[:20]])
    assert first["accuracy"] == round(float(np.mean(
        [p == x["label"] for p, x in zip(predicted, lines[:20], strict=True)])), 4)
    for w in (first, second):
        assert 0 <= w["estimated_accuracy"] <= 1 and 0 <= w["abstention_rate"] <= 1
        assert w["label_drift"] in (True, False)  # reported apart from "drift"
    assert tenant.events_count() == events_before  # the stream was not stored


def test_partial_last_window_and_bad_lines(tenant: Tenant, tmp_path: Path) -> None:
    ingest_topics(tenant, tmp_path)
    _seed_encoder(tenant, tmp_path)
    tenant.triage_models.train("intents", "category", encoder="none")
    stream, _ = _stream(tmp_path)
    windows = tenant.monitor.report("intents", stream, 15)["windows"]
    assert [(w["start"], w["end"], w["n"]) for w in windows] == [(0, 15, 15), (15, 30, 15),
                                                                (30, 40, 10)]
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": 1, "text": "fine"}, {"id": 2, "txt": "x"}])
    with pytest.raises(ValidationFailed, match=r"bad.jsonl: line 2: field 'text' must be a "
                                               r"string. Got nothing"):
        tenant.monitor.report("intents", bad, 10)
    with pytest.raises(ValidationFailed, match="'--window' must be a positive"):
        tenant.monitor.report("intents", stream, 0)
