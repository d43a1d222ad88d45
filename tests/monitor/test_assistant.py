"""``monitor status`` shows agents' verdicts on the assistant's drafts: counts per model and
index version and the articles rejected most, checked against the verdicts the test gave."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from supportops import Tenant
from tests.assist.conftest import ENCODERS
from tests.assist.kb import write_bitext
from tests.ml.test_lifecycle import _cli

QUESTIONS = {"where is my refund": ["used", "rejected", "rejected"],
             "how do I cancel my order": ["edited", "rejected"],
             "I forgot my password": ["used"]}
LATER = {"how can I change my shipping address": ["rejected", "edited"]}


@pytest.fixture(autouse=True)
def shared_encoder_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTOPS_ENCODER_CACHE", str(ENCODERS))
    monkeypatch.delenv("SUPPORTOPS_LLM_BASE_URL", raising=False)


def _judge(tenant: Tenant, verdicts: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Draft an answer to each question and give it the verdicts; what was judged."""
    given = []
    for question, said in verdicts.items():
        answer = tenant.assist.answer(question)
        sources = {c["source_id"] for c in answer["citations"] if c["kind"] == "kb"}
        for verdict in said:
            tenant.assist.feedback(answer["answer_id"], verdict)
            given.append({"verdict": verdict, "articles": sources,
                          "version": ("extractive", answer["index_version"])})
    return given


def _expected_worst(given: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
    cited: Counter[str] = Counter(a for g in given for a in g["articles"])
    rejected: Counter[str] = Counter(a for g in given if g["verdict"] == "rejected"
                                     for a in g["articles"])
    return sorted(((a, cited[a], rejected[a]) for a in rejected),
                  key=lambda x: (-x[2], -x[2] / x[1], x[0]))[:5]


def test_status_counts_verdicts_per_version_and_the_worst_articles(
        tenant: Tenant, tmp_path: Path) -> None:
    tenant.assist.load_kb(write_bitext(tmp_path / "kb.csv"), "bitext")
    first = _judge(tenant, QUESTIONS)
    cut = datetime.now(UTC)
    later = _judge(tenant, LATER)
    given = [*first, *later]

    out = json.loads(_cli(tenant.workspace, "monitor", "status", "--json"))["assistant"]
    verdicts = Counter(g["verdict"] for g in given)
    assert out["judged"] == len(given) == 8
    assert out["counts"] == {"used": verdicts["used"], "edited": verdicts["edited"],
                             "rejected": verdicts["rejected"]} == {"used": 2, "edited": 2,
                                                                   "rejected": 4}
    assert out["rejection_rate"] == 0.5
    versions = Counter(g["version"] for g in given)
    assert [(v["model"], v["index_version"], v["judged"]) for v in out["by_version"]] == \
        [(m, i, n) for (m, i), n in sorted(versions.items())]
    assert [(w["article_id"], w["cited"], w["rejected"]) for w in out["worst_articles"]] == \
        _expected_worst(given)
    assert out["worst_articles"][0]["rejected"] >= 2

    recent = tenant.monitor.status(since=cut)["assistant"]
    assert recent["judged"] == len(later) and recent["counts"]["rejected"] == 1
    assert [(w["article_id"], w["rejected"]) for w in recent["worst_articles"]] == \
        [(a, r) for a, _, r in _expected_worst(later)]

    table = _cli(tenant.workspace, "monitor", "status", "--since", cut.strftime(
        "%Y-%m-%dT%H:%M:%S"))
    assert "Assistant drafts judged since" in table and "Articles rejected most" in table


def test_status_without_feedback(tenant: Tenant) -> None:
    empty = tenant.monitor.status()["assistant"]
    assert empty == {"since": None, "judged": 0,
                     "counts": {"used": 0, "edited": 0, "rejected": 0},
                     "rejection_rate": None, "by_version": [], "worst_articles": []}
