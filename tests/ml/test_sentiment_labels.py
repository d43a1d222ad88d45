"""Sentiment labels come from customers' own satisfaction ratings."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportops import Tenant
from supportops.datasets.snapshots import create_snapshot, sentiment_of
from tests.helpers import event, write_jsonl


@pytest.mark.parametrize(("score", "label"), [
    (1, "negative"), (2, "negative"), (3, "neutral"), (3.5, "neutral"), (4, "positive"),
    (5, "positive"), (None, None)])
def test_sentiment_of_rating(score: float | None, label: str | None) -> None:
    assert sentiment_of(score) == label


def test_snapshot_labels_rated_tickets_only(tenant: Tenant, tmp_path: Path) -> None:
    lines = []
    for i, score in enumerate([1, 5, None]):
        lines.append(event("ticket.created", f"T-{i}", "2024-01-01T00:00:00Z",
                           subject=f"c-{i}", text=f"ticket {i}"))
        if score is not None:
            lines.append(event("satisfaction.rated", f"T-{i}", "2024-01-02T00:00:00Z",
                               subject=f"c-{i}", score=score))
    tenant.ingest(write_jsonl(tmp_path / "s.jsonl", lines), format="jsonl")
    snap = create_snapshot(tenant.workspace.db, tenant.ctx, tenant.workspace.artifacts, "s",
                           require="sentiment")
    rows = {r["ticket_id"]: r["sentiment"] for r in snap.read().to_pylist()}
    assert rows == {"T-0": "negative", "T-1": "positive"}
