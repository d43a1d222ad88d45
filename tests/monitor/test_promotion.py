"""Champion/challenger on real models trained in the test: the exact McNemar test, promotion
refused for a challenger that is not significantly better on feedback, allowed and audited
(with the test) for one that is, and ``--force``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from scipy.stats import binom

from supportops import Tenant, ValidationFailed
from supportops.monitor.compare import mcnemar
from tests.helpers import event, write_jsonl
from tests.ml.test_lifecycle import EXE, TOPICS, _cli
from tests.monitor.test_feedback import ingest_topics

NEW_GREETINGS = ["hey, ", "good morning, ", "help: "]


def test_exact_mcnemar_counts_discordant_pairs() -> None:
    champion = [True] * 10 + [False] * 8 + [True, False]
    challenger = [True] * 10 + [True] * 8 + [False, False]
    test = mcnemar(champion, challenger)
    assert (test.b, test.c) == (1, 8)
    assert test.p_value == pytest.approx(2 * binom.cdf(1, 9, 0.5))  # two-sided exact
    assert test.significant() and test.challenger_better
    same = mcnemar(champion, champion)
    assert (same.b, same.c, same.p_value, same.significant()) == (0, 0, 1.0, False)
    assert not mcnemar(challenger, champion).significant()  # worse is never "better"


def _run(tenant: Tenant, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUPPORTOPS_WORKSPACE": str(tenant.path)}
    if tenant.workspace.db.is_postgres:
        env["SUPPORTOPS_DATABASE_URL"] = tenant.workspace.db.url
    return subprocess.run([EXE, *args, "--tenant", "acme"], capture_output=True, text=True,
                          env=env, timeout=240)


def _new_tickets_with_feedback(tenant: Tenant, tmp_path: Path) -> int:
    """Tickets no model trained on, each labelled by an agent's correction."""
    lines = [event("ticket.created", f"N-{topic}-{i}", "2024-03-01T10:00:00Z",
                   subject=f"new-{i % 4}", text=text)
             for topic, texts in TOPICS.items()
             for i, text in enumerate(f"{g}{t}" for g in NEW_GREETINGS for t in texts)]
    tenant.ingest(write_jsonl(tmp_path / "new.jsonl", lines), "jsonl")
    for line in lines:
        topic = str(line["ticket_id"]).split("-")[1]
        tenant.triage.feedback(str(line["ticket_id"]), name="intents", final=topic,
                               action="correct")
    return len(lines)


def test_promotion_is_gated_by_the_significance_test(tenant: Tenant, tmp_path: Path) -> None:
    ingest_topics(tenant, tmp_path)
    models = tenant.triage.service
    no_login = {f"T-{t}-{i}" for t in ("card_lost", "refund") for i in range(20)}
    assert models.train("intents", "category", encoder="none",
                        ticket_ids=no_login)["version"] == "1"  # first: champion
    assert models.train("intents", "category", encoder="none",
                        alias="challenger")["version"] == "2"
    assert models.registry.alias("acme", "intents", "champion") == "1"
    n = _new_tickets_with_feedback(tenant, tmp_path)

    compared = tenant.monitor.compare("intents")
    assert compared["tickets"] == n and compared["excluded_trained_on"] == 0
    assert compared["champion"]["accuracy"] < compared["challenger"]["accuracy"]
    assert compared["mcnemar"]["significant"] and compared["mcnemar"]["p_value"] < 0.05

    promoted = tenant.triage.promote("intents", "2")
    assert promoted["version"] == "2" and promoted["previous"] == "1"
    (entry,) = tenant.audit.list(action="model.promote")[-1:]
    assert entry.details["version"] == "2"
    assert entry.details["comparison"]["mcnemar"]["p_value"] == compared["mcnemar"]["p_value"]
    assert entry.details["comparison"]["forced"] is False

    # an equally good challenger (same tickets, same settings): refused, then forced
    every = {f"T-{t}-{i}" for t in TOPICS for i in range(20)}
    assert models.train("intents", "category", encoder="none", ticket_ids=every,
                        alias="challenger")["version"] == "3"
    assert tenant.monitor.compare("intents")["tickets"] == n
    with pytest.raises(ValidationFailed, match=rf"not significantly better .* on {n} .* p=1"):
        tenant.triage.promote("intents", "3")
    compared = json.loads(_cli(tenant.workspace, "models", "compare", "intents", "--json"))
    assert (compared["champion"]["version"], compared["challenger"]["version"]) == ("2", "3")
    refused = _run(tenant, "models", "promote", "intents", "3")
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert models.registry.alias("acme", "intents", "champion") == "2"
    tenant.triage.promote("intents", "3", force=True)
    last = tenant.audit.list(action="model.promote")[-1]
    assert last.details["version"] == "3" and last.details["comparison"]["forced"] is True
    assert models.registry.alias("acme", "intents", "champion") == "3"
