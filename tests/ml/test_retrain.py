"""Retraining what erasure flagged: the non-inferiority check, aliases that move or go (and
``predict`` saying why), and promotion or rollback refusing a version with erased data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from supportops import NotFound, Tenant, ValidationFailed
from supportops.triage.retrain import non_inferiority
from tests.helpers import event, write_jsonl
from tests.ml.test_lifecycle import GREETINGS, TOPICS

CUSTOMERS = ["cust-1", "cust-2", "cust-3", "cust-4"]  # k = 3 subjects remain without cust-1


def test_non_inferiority_is_a_paired_one_sided_test() -> None:
    old = np.array([True] * 90 + [False] * 10)
    new = old.copy()
    new[:4] = False  # four rows the new model gets wrong that the old got right
    check = non_inferiority(old, new, margin=0.10, alpha=0.05)
    diff = new.astype(float) - old.astype(float)
    se = diff.std(ddof=1) / math.sqrt(len(diff))
    assert check.difference == pytest.approx(-0.04)
    assert check.std_error == pytest.approx(se)
    assert check.p_value == pytest.approx(norm.sf((-0.04 + 0.10) / se))
    assert check.passed and (check.accuracy_old, check.accuracy_new) == (0.9, 0.86)
    assert not non_inferiority(old, new, margin=0.01).passed  # 4 points worse: not within 1
    same = non_inferiority(old, old, margin=0.0)
    assert (same.p_value, same.passed) == (1.0, False)  # equal is not "not worse by 0"
    assert non_inferiority(old, old, margin=0.02).passed


def _ingest(tenant: Tenant, tmp_path: Path) -> set[str]:
    lines = [event("ticket.created", f"T-{topic}-{i}", f"2024-01-01T10:{i:02d}:00Z",
                   subject=CUSTOMERS[i % len(CUSTOMERS)], text=text, category=topic, channel="chat")
             for topic, texts in TOPICS.items()
             for i, text in enumerate(f"{g}{t}" for g in GREETINGS for t in texts)]
    tenant.ingest(write_jsonl(tmp_path / "tickets.jsonl", lines), "jsonl")
    return {str(line["ticket_id"]) for line in lines if line["subject"] != "cust-1"}


def test_failed_check_removes_the_alias_and_flagged_versions_never_serve(
    tenant: Tenant, tmp_path: Path
) -> None:
    without_c1 = _ingest(tenant, tmp_path)
    models = tenant.triage.service
    assert models.train("intents", "category", encoder="none")["version"] == "1"
    models.promote("intents", "1", alias="challenger")
    assert models.train("intents", "category", encoder="none",
                        ticket_ids=without_c1)["version"] == "2"  # champion now
    tenant.privacy.erase("cust-1")  # flags version 1 only

    with pytest.raises(ValidationFailed, match=r"holds erased data.*cannot be rolled back to"):
        models.rollback("intents")  # the earlier champion is version 1
    with pytest.raises(ValidationFailed, match="Version 1 of model 'intents' holds erased"):
        models.promote("intents", "1")
    assert models.registry.alias("acme", "intents", "champion") == "2"

    result = models.retrain_flagged(margin=0.0)  # equal accuracy is not enough at margin 0
    (done,) = result["models"]
    assert (done["old_version"], done["new_version"]) == ("1", "3")
    assert not done["non_inferiority"]["passed"] and done["aliases_removed"] == ["challenger"]
    assert done["aliases_moved"] == [] and done["artefacts_deleted"] >= 1
    with pytest.raises(NotFound, match="failed the non-inferiority check") as why:
        models.load("intents", "challenger")
    assert "\n" not in str(why.value) and "version 1 held erased data" in str(why.value)
    assert models.registry.champion_history("acme", "intents") == ["2"]
    assert models.retrain_flagged()["count"] == 0  # idempotent: nothing flagged is left

    models.promote("intents", "3", alias="challenger")
    assert models.load("intents", "challenger")[1] == "3"
    with pytest.raises(NotFound, match="has no artefacts any more"):
        models.load("intents", "1")
    assert tenant.triage.predict_one("I lost my card", name="intents")["version"] == "2"
