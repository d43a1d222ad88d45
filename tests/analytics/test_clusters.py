"""Root-cause clusters: c-TF-IDF names, trends and emerging flags with a stand-in embedder;
agreement with Banking77 intents (adjusted Rand index) with the real MiniLM on a slice."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.metrics import adjusted_rand_score

from supportops import Tenant
from supportops.analytics.clusters import clusters, default_embedder, distinctive_terms
from supportops.errors import ValidationFailed

from ..conftest import shared_file
from .helpers import ev, ingest_events

THEMES = {"password": "reset my password login fails", "refund": "refund my order money back",
          "outage": "website outage server down"}


def keyword_embedder(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """One axis per theme, picked by its first word: a perfect, instant embedder."""
    rows = np.zeros((len(texts), len(THEMES)), dtype=np.float32)
    for i, text in enumerate(texts):
        for j, key in enumerate(THEMES):
            rows[i, j] = 1.0 if key in text else 0.0
    return rows


def _log() -> list[dict[str, object]]:
    events = []
    n = 0
    for week, counts in enumerate([{"password": 6, "refund": 6, "outage": 1},
                                   {"password": 6, "refund": 5, "outage": 8}]):
        for theme, count in counts.items():
            for i in range(count):
                n += 1
                day = 1 + 7 * week + i % 5
                events.append(ev("ticket.created", f"K{n}", f"2024-01-{day:02d}T09:00:00Z",
                                 text=f"{THEMES[theme]} case {i}", category=theme))
    return events


def test_names_trend_and_emerging(tenant: Tenant, tmp_path: Path) -> None:
    ingest_events(tenant, tmp_path / "k.jsonl", _log())
    data = clusters(tenant.workspace.db, tenant.ctx, keyword_embedder, k=3, period="week",
                    with_assignments=True)
    assert data["texts"] == 32 and data["k"] == 3
    by_theme = {c["terms"][0]: c for c in data["clusters"] if c["terms"]}
    assert {"password", "refund", "outage"} <= {t for c in data["clusters"] for t in c["terms"]}
    outage = next(c for c in data["clusters"] if "outage" in c["terms"])
    assert (outage["size"], outage["last_period"], outage["this_period"]) == (9, 1, 8)
    assert outage["emerging"] and data["clusters"][0] is outage
    assert [c["emerging"] for c in data["clusters"]].count(True) == 1
    assert sum(t["tickets"] for t in outage["trend"]) == 9
    assert len(data["assignments"]) == 32 and by_theme


def test_c_tf_idf_prefers_distinctive_terms() -> None:
    texts = ["card lost card", "card lost", "transfer failed", "transfer failed card"]
    names = distinctive_terms(texts, [0, 0, 1, 1], n_terms=2)
    assert names[0][0] == "lost" and names[1][0] in {"transfer", "failed"}


def test_rejects_unknown_method(tenant: Tenant) -> None:
    with pytest.raises(ValidationFailed, match="method"):
        clusters(tenant.workspace.db, tenant.ctx, keyword_embedder, method="dbscan")


@pytest.mark.slow
def test_minilm_clusters_follow_banking77_intents(tenant: Tenant, tmp_path: Path) -> None:
    path = shared_file("banking77/train.csv")
    wanted = ["card_arrival", "lost_or_stolen_card", "exchange_rate", "cash_withdrawal_charge",
              "pending_transfer", "age_limit", "apple_pay_or_google_pay", "change_pin"]
    picked: dict[str, list[str]] = {w: [] for w in wanted}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["category"] in picked and len(picked[row["category"]]) < 20:
                picked[row["category"]].append(row["text"])
    events = [ev("ticket.created", f"B{i}-{j}", "2024-01-01T00:00:00Z", text=text,
                 category=intent)
              for i, (intent, texts) in enumerate(picked.items())
              for j, text in enumerate(texts)]
    ingest_events(tenant, tmp_path / "b77.jsonl", events)
    data = clusters(tenant.workspace.db, tenant.ctx, default_embedder(), k=len(wanted),
                    with_assignments=True)
    truth = {f"B{i}-{j}": i for i, texts in enumerate(picked.values()) for j in range(len(texts))}
    ids = sorted(data["assignments"])
    ari = adjusted_rand_score([truth[t] for t in ids], [data["assignments"][t] for t in ids])
    assert ari > 0.6, ari


def test_hdbscan_finds_blobs_and_marks_noise() -> None:
    from supportops.analytics.clusters import assign

    rng = np.random.default_rng(0)
    centres = np.eye(3, 40, dtype=np.float32) * 5
    blobs = np.vstack([c + rng.normal(0, 0.05, (30, 40)) for c in centres]).astype(np.float32)
    outlier = np.full((1, 40), 20.0, dtype=np.float32)
    labels = assign(np.vstack([blobs, outlier]), "hdbscan", min_cluster_size=5)
    assert len(set(labels[:90].tolist())) == 3 and labels[-1] == -1
    assert adjusted_rand_score(np.repeat([0, 1, 2], 30), labels[:90]) == 1.0


def test_nothing_emerges_without_history_and_contractions_do_not_name() -> None:
    from supportops.analytics.clusters import emerging

    assert emerging([{"period": 1, "tickets": 40}], 1, None, 5, 2.0) == (40, 0, False)
    assert emerging([{"period": 2, "tickets": 6}], 2, 1, 5, 2.0) == (6, 0, True)
    assert emerging([{"period": 1, "tickets": 4}, {"period": 2, "tickets": 6}], 2, 1, 5,
                    2.0)[2] is False
    names = distinctive_terms(["it hasn't arrived", "card hasn't arrived", "pin won't work"],
                              [0, 0, 1])
    assert "hasn" not in names[0] and "arrived" in names[0]
