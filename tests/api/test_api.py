"""The REST API over real HTTP: each resource's contract, keys, roles and the error shape."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import TOPICS, World
from tests.helpers import event, write_jsonl
from tests.ml.test_lifecycle import EXE


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    assert body["error"]["message"]
    detail: dict[str, Any] = body["error"]
    return detail


def test_open_endpoints_answer_without_a_key_and_the_rest_refuse(world: World) -> None:
    with world.client() as anon:
        assert anon.get("/v1/health").json() == {"status": "ok"}
        assert anon.get("/v1/version").json()["api"] == "v1"
        spec = anon.get("/openapi.json").json()
        assert "/v1/tickets" in spec["paths"] and "/v1/triage" in spec["paths"]
        assert _error(anon.get("/v1/tickets"), 401)["code"] == "unauthenticated"
        bad = anon.get("/v1/tickets", headers={"Authorization": "Bearer so_acme_00"})
        assert _error(bad, 401)["code"] == "unauthenticated"
        assert _error(anon.get("/v1/tenants"), 401)["code"] == "unauthenticated"


def test_tickets_are_paged_by_cursor_and_filtered(world: World) -> None:
    with world.client("acme", "agent") as api:
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 7, **({"cursor": cursor} if cursor else {})}
            page = api.get("/v1/tickets", params=params).json()
            assert page["count"] == len(page["data"]) <= 7
            seen += [t["ticket_id"] for t in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(world.tickets["acme"]) and len(seen) == len(set(seen))
        refunds = api.get("/v1/tickets", params={"category": "refund", "limit": 1000}).json()
        assert refunds["count"] == 20 and {t["category"] for t in refunds["data"]} == {"refund"}
        one = api.get(f"/v1/tickets/{world.tickets['acme'][0]}").json()
        assert one["ticket_id"] == world.tickets["acme"][0]
        assert [e["type"] for e in one["events"]] == ["ticket.created"]
        assert "@example.com" not in str(one)  # pseudonymised
        assert _error(api.get("/v1/tickets", params={"cursor": "x'"}), 422)["field"] == \
            "cursor"


def test_events_one_and_batch_are_idempotent_with_per_record_errors(world: World) -> None:
    good = event("ticket.created", "A-new-1", "2024-02-01T10:00:00Z", subject="A-cust-9",
                 text="my card is lost again", category="card_lost")
    with world.client("acme", "agent") as api:
        assert api.post("/v1/events", json=good).json()["accepted"] == 1
        assert api.post("/v1/events", json=good).json() == {
            "accepted": 0, "duplicates": 1, "rejected": 0, "errors": [],
            "errors_omitted": None}
        batch = [good, {"type": "ticket.created"}, {**good, "ticket_id": "A-new-2"}]
        report = api.post("/v1/events/batch", json={"events": batch}).json()
        assert (report["accepted"], report["duplicates"], report["rejected"]) == (1, 1, 1)
        assert report["errors"] == [{"record": 2, "field": "occurred_at",
                                     "message": "missing or not an ISO 8601 string"}]
        refused = api.post("/v1/events/batch", json={"events": batch, "strict": True})
        assert _error(refused, 422)["code"] == "ingest_refused"
        assert _error(api.post("/v1/events/batch", json={"events": []}), 422)["field"] == \
            "events"
    with world.client("acme", "analyst") as analyst:
        assert _error(analyst.post("/v1/events", json=good), 403)["code"] == \
            "permission_denied"


def test_triage_predicts_with_the_champion(world: World) -> None:
    with world.client("acme", "agent") as api:
        out = api.post("/v1/triage", json={"text": "I lost my card, please block it"}).json()
        assert out["label"] == "card_lost" and out["model"] == "triage"
        assert out["version"] == "1" and 0 <= out["confidence"] <= 1
        missing = api.post("/v1/triage", json={"text": "x", "model": "nope"})
        assert _error(missing, 404)["code"] == "not_found"
        other = api.post("/v1/triage", json={"text": "refund", "ticket_id": "G-refund-1"})
        assert _error(other, 404)["code"] == "not_found"


def test_cli_and_api_predict_the_same_record(world: World, tmp_path: Path) -> None:
    """One predict path: ``supportops predict triage --json`` and ``POST /v1/triage`` answer
    the same text with the same record (the CLI's carries the line's id)."""
    texts = ["I lost my card, please block it", "What will the weather be like in Lisbon?"]
    infile = write_jsonl(tmp_path / "in.jsonl", [{"id": f"q{i}", "text": t}
                                                 for i, t in enumerate(texts)])
    env = {**os.environ, "SUPPORTOPS_WORKSPACE": str(world.workspace.path)}
    if world.workspace.db.is_postgres:
        env["SUPPORTOPS_DATABASE_URL"] = world.workspace.db.url
    done = subprocess.run([EXE, "predict", "triage", "--name", "triage", "--file", str(infile),
                           "--tenant", "acme", "--json"], capture_output=True, text=True,
                          env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    cli = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert [r["id"] for r in cli] == ["q0", "q1"]
    with world.client("acme", "agent") as api:
        served = [api.post("/v1/triage", json={"text": t}).json() for t in texts]
    for line, answer in zip(cli, served, strict=True):
        assert {"label", "confidence", "top", "abstained", "model", "version"} <= set(line)
        assert ("reason" in line) == line["abstained"]
        assert {k: v for k, v in line.items() if k != "id"} == \
            {k: v for k, v in answer.items() if k != "id"}
    assert cli[0]["label"] == "card_lost" and cli[0]["version"] == "1"


def test_principals_keys_roles_scopes_and_expiry(world: World) -> None:
    with world.client("acme", "admin") as admin:
        made = admin.post("/v1/principals", json={
            "name": "bot-1", "role": "agent", "scopes": ["tickets"],
            "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()})
        assert made.status_code == 201, made.text
        key = made.json()["api_key"]
        assert key.startswith("so_acme_") and made.json()["scopes"] == ["tickets"]
        listed = admin.get("/v1/principals").json()["data"]
        assert "bot-1" in {p["name"] for p in listed} and "so_acme_" not in str(listed)
        bot = httpx.Client(base_url=world.url, headers={"Authorization": f"Bearer {key}"})
        assert bot.get("/v1/tickets").status_code == 200
        scoped = bot.post("/v1/triage", json={"text": "refund please"})
        assert "scoped" in _error(scoped, 403)["message"]
        assert admin.patch("/v1/principals/bot-1", json={"role": "analyst"}).json()[
            "previous"] == "agent"
        assert bot.get("/v1/tickets").status_code == 200
        fresh = admin.post("/v1/principals/bot-1/rotate").json()["api_key"]
        assert _error(bot.get("/v1/tickets"), 401)["code"] == "unauthenticated"
        bot.headers["Authorization"] = f"Bearer {fresh}"
        assert bot.get("/v1/tickets").status_code == 200
        assert admin.post("/v1/principals/bot-1/disable").json()["disabled"] is True
        assert _error(bot.get("/v1/tickets"), 401)["code"] == "unauthenticated"
        past = admin.post("/v1/principals", json={
            "name": "bot-2", "role": "agent", "expires_at": "2020-01-01T00:00:00Z"})
        assert _error(past, 422)["code"] == "validation_failed"
        assert _error(admin.post("/v1/principals", json={"name": "x", "role": "root"}),
                      422)["field"] == "role"
        assert _error(admin.post("/v1/principals", json={"name": "bot-1", "role": "agent"}),
                      409)["code"] == "already_exists"


def test_expired_key_is_refused(world: World) -> None:
    """Expiry is read on the server's clock, which the test moves past it."""
    owner = world.workspace.tenant("acme")
    expires = datetime.now(UTC) + timedelta(seconds=1)
    _, key = owner.principals.create("short-lived", "agent", expires_at=expires)
    assert world.clock.now() < expires
    with httpx.Client(base_url=world.url, headers={"Authorization": f"Bearer {key}"}) as bot:
        assert bot.get("/v1/tickets", params={"limit": 1}).status_code == 200
        world.clock.advance_past(expires - timedelta(seconds=0.01))
        assert bot.get("/v1/tickets", params={"limit": 1}).status_code == 200  # not yet
        world.clock.advance(0.02)
        assert bot.get("/v1/tickets", params={"limit": 1}).status_code == 200  # remembered
        world.clock.advance(1.0)  # the key cache's ttl
        assert "expired" in _error(bot.get("/v1/tickets"), 401)["message"]


def test_models_datasets_and_analytics(world: World) -> None:
    with world.client("acme", "ml_engineer") as ml:
        models = ml.get("/v1/models").json()
        assert models["count"] == 1 and models["data"][0]["aliases"] == ["champion"]
        one = ml.get("/v1/models/triage/versions/1").json()
        assert one["version"] == "1" and "accuracy" in one["metrics"]
        same = ml.get("/v1/models/triage/compare", params={"a": "1", "b": "1"}).json()
        assert same["delta"]["accuracy"] == 0
        assert _error(ml.post("/v1/models/triage/rollback"), 422)["code"] == \
            "validation_failed"
        promoted = ml.post("/v1/models/triage/promote", json={"version": "1"}).json()
        assert promoted["version"] == "1"
        snap = ml.post("/v1/datasets", json={"name": "weekly", "require": "category"})
        assert snap.status_code == 201, snap.text
        listed = ml.get("/v1/datasets").json()
        assert snap.json()["id"] in {s["id"] for s in listed["data"]}
        assert ml.get(f"/v1/datasets/{snap.json()['id']}").json()["digest"] == \
            snap.json()["digest"]
    with world.client("acme", "analyst") as analyst:
        report = analyst.get("/v1/analytics/report", params={"by": "category"}).json()
        assert report["tickets"] >= 60 and "category" in report["breakdowns"]
        assert _error(analyst.get("/v1/models"), 403)["code"] == "permission_denied"


def test_privacy_opt_out_reveal_erase_report_audit_lineage(world: World) -> None:
    customer = world.customers["acme"][3]
    ticket = world.tickets["acme"][3]
    with world.client("acme", "privacy_officer") as dpo:
        opted = dpo.post("/v1/privacy/opt-out", json={"subject": customer}).json()
        assert opted["subject"].startswith("<CUSTOMER_")
        assert opted["subject"] in dpo.get("/v1/privacy/opted-out").json()["data"]
        revealed = dpo.get(f"/v1/privacy/reveal/{ticket}").json()
        assert f"{customer}@example.com" in str(revealed)
        lineage = dpo.get("/v1/lineage", params={"subject": customer}).json()
        assert lineage["snapshots"]
        erased = dpo.post("/v1/privacy/erase", json={"subject": customer}).json()
        # the report names the subject by its keyed reference, never by its token
        assert re.fullmatch(r"s[0-9a-f]{40}", erased["subject"]), erased["subject"]
        assert erased["events_redacted"] > 0
        reports = dpo.get("/v1/privacy/reports", params={"subject": customer}).json()
        assert reports["count"] == 1
        entries = dpo.get("/v1/audit", params={"subject": customer}).json()["data"]
        assert {"privacy.erase", "privacy.opted_out", "pii.reveal"} <= {e["action"] for e in entries}
        reveals = dpo.get("/v1/audit", params={"action": "pii.*"}).json()["data"]
        assert [e["action"] for e in reveals] == ["pii.reveal"]
        assert dpo.get("/v1/audit/verify").json()["ok"] is True
        assert _error(dpo.get("/v1/lineage"), 422)["code"] == "validation_failed"
    with world.client("acme", "analyst") as analyst:
        assert _error(analyst.get(f"/v1/privacy/reveal/{ticket}"), 403)["code"] == \
            "permission_denied"


def test_workspace_admin_creates_tenants_and_their_first_admin(world: World) -> None:
    admin = httpx.Client(base_url=world.url,
                         headers={"Authorization": f"Bearer {world.admin_key}"})
    made = admin.post("/v1/tenants", json={"id": "initech", "name": "Initech"})
    assert made.status_code == 201 and made.json()["id"] == "initech"
    assert "initech" in {t["id"] for t in admin.get("/v1/tenants").json()["data"]}
    first = admin.post("/v1/tenants/initech/principals", json={"name": "boss", "role": "admin"})
    key = first.json()["api_key"]
    assert key.startswith("so_initech_")
    with httpx.Client(base_url=world.url, headers={"Authorization": f"Bearer {key}"}) as boss:
        assert boss.get("/v1/tickets").json()["count"] == 0
        assert _error(boss.get("/v1/tenants"), 403)["code"] == "permission_denied"
    assert _error(admin.get("/v1/tickets"), 401)["code"] == "unauthenticated"
    assert _error(admin.post("/v1/tenants", json={"id": "Bad Id"}), 422)["code"] == \
        "validation_failed"


def test_assist_similar_answer_and_feedback(world: World) -> None:
    with world.client("acme", "agent") as agent:
        similar = agent.get("/v1/assist/similar", params={"ticket_id": world.tickets[
            "acme"][0]}).json()
        assert similar["count"] == len(similar["data"])
        draft = agent.post("/v1/assist/answer", json={"text": "how do I get a refund?"}).json()
        assert {"answer_id", "confidence", "abstained"} <= set(draft)
        verdict = agent.post("/v1/assist/feedback", json={"answer_id": draft["answer_id"],
                                                          "verdict": "rejected"}).json()
        assert (verdict["answer_id"], verdict["recorded"]) == (draft["answer_id"], 1)
        unknown = agent.post("/v1/assist/feedback", json={"answer_id": "nope"})
        assert _error(unknown, 404)["code"] == "not_found"
        assert _error(agent.get("/v1/assist/similar"), 422)["code"] == "validation_failed"


def test_nul_anywhere_in_a_request_is_one_clear_422(world: World) -> None:
    """NUL in a JSON body, a query or a path is refused at the door, naming the field
    (PostgreSQL would fail deep in a handler; a model name would become a file path)."""
    with world.client("acme", "admin") as admin:
        body = _error(admin.post("/v1/principals", json={"name": "a\x00b", "role": "agent"}), 422)
        assert body["field"] == "name" and "NUL" in body["message"]
        assert _error(admin.post("/v1/triage", json={"text": "hi", "model": "x\x00"}),
                      422)["field"] == "model"
        assert _error(admin.get("/v1/privacy/opted-out", params={"as_of": "1\x00"}),
                      422)["field"] == "as_of"
        assert _error(admin.get("/v1/tickets/T%00-1"), 422)["field"] == "path"


def test_clusters_and_sla_targets(world: World) -> None:
    with world.client("acme", "analyst") as analyst:
        found = analyst.get("/v1/analytics/clusters", params={"k": 3, "top": 10}).json()
        # 60 tickets, less those of the customer an earlier test erased (redacted texts)
        assert found["texts"] >= 45 and found["k"] == 3 and found["tenant"] == "acme"
        assert sum(c["size"] for c in found["clusters"]) == found["texts"]
        # the three topics of the world, each named by its own words
        named = [" ".join(c["terms"]) for c in found["clusters"]]
        for word in ("card", "refund", "login"):
            assert sum(word in terms for terms in named) == 1, (word, named)
        assert _error(analyst.get("/v1/analytics/clusters", params={"k": 1}), 422)[
            "field"] == "k"
        assert _error(analyst.get("/v1/analytics/clusters", params={"from": "soon"}), 422)[
            "code"] == "validation_failed"
        assert analyst.get("/v1/analytics/sla").json() == {"data": [], "count": 0}
        refused = analyst.put("/v1/analytics/sla/P1", json={"resolution_hours": 8})
        assert _error(refused, 403)["code"] == "permission_denied"
    with world.client("acme", "agent") as agent:
        assert _error(agent.get("/v1/analytics/clusters"), 403)["code"] == "permission_denied"
    with world.client("acme", "admin") as admin:
        made = admin.put("/v1/analytics/sla/1 - Critical", json={"resolution_hours": 4,
                                                                 "first_response_hours": 0.5})
        assert made.json() == {"priority": "1 - Critical", "first_response_hours": 0.5,
                               "resolution_hours": 4.0}, made.text
        admin.put("/v1/analytics/sla/1 - Critical", json={"resolution_hours": 6})  # replaces
        listed = admin.get("/v1/analytics/sla").json()
        assert listed == {"count": 1, "data": [{"priority": "1 - Critical",
                                                "first_response_hours": None,
                                                "resolution_hours": 6.0}]}
        assert _error(admin.put("/v1/analytics/sla/P2", json={}), 422)["code"] == \
            "validation_failed"
        assert _error(admin.put("/v1/analytics/sla/P2", json={"resolution_hours": -1}),
                      422)["field"] == "resolution_hours"
        assert _error(admin.put("/v1/analytics/sla/%20", json={"resolution_hours": 1}),
                      422)["code"] == "validation_failed"
        assert admin.delete("/v1/analytics/sla/1 - Critical").json() == {
            "priority": "1 - Critical", "removed": True}
        assert _error(admin.delete("/v1/analytics/sla/1 - Critical"), 404)["code"] == \
            "not_found"
        assert admin.get("/v1/analytics/sla").json()["count"] == 0
    # the CLI's face and the API's reach the same targets through the same facade
    owner = world.workspace.tenant("acme")
    owner.analytics.set_sla_target("P9", resolution_hours=9)
    with world.client("acme", "analyst") as analyst:
        assert analyst.get("/v1/analytics/sla").json()["data"][0]["priority"] == "P9"
    assert owner.analytics.remove_sla_target("P9")


def test_significance_of_champion_against_challenger(world: World, tmp_path: Path) -> None:
    """A challenger that never saw 'login' against the champion that did, on new tickets an
    agent labelled: the champion alone is right on the login ones, so the exact McNemar test
    is significant in its favour and the challenger is not better."""
    owner = world.workspace.tenant("acme")
    no_login = {t for t in world.tickets["acme"] if "-login-" not in t}
    trained = owner.triage.train("triage", "category", encoder="none",
                                        ticket_ids=no_login, alias="challenger")
    lines = [event("ticket.created", f"A-sig-{topic}-{i}", "2024-03-01T10:00:00Z",
                   subject=f"A-sig-{i % 3}", text=text)
             for topic, texts in TOPICS.items()
             for i, text in enumerate(f"{g}{t}" for g in ("hey, ", "good morning, ", "help: ")
                                      for t in texts)]
    owner.ingest(write_jsonl(tmp_path / "sig.jsonl", lines), "jsonl")
    for line in lines:
        owner.triage.feedback(str(line["ticket_id"]), final=str(line["ticket_id"]).split("-")[2],
                              action="correct")
    with world.client("acme", "ml_engineer") as ml:
        result = ml.get("/v1/models/triage/significance").json()
        assert result["tickets"] == len(lines) and result["excluded_trained_on"] == 0
        assert result["champion"]["version"] == "1"
        assert result["challenger"]["version"] == trained["version"]
        test = result["mcnemar"]
        assert test["test"] == "mcnemar_exact"
        assert test["champion_only_right"] >= 2 * len(TOPICS["login"])  # of 3 x 5 login
        assert test["champion_only_right"] > test["challenger_only_right"]
        assert test["p_value"] < 0.05 and test["challenger_better"] is False
        assert test["significant"] is False  # worse is never "better"
        itself = ml.get("/v1/models/triage/significance", params={"challenger": "1"}).json()
        assert itself["mcnemar"]["p_value"] == 1.0
        assert itself["champion"]["accuracy"] == itself["challenger"]["accuracy"]
        assert _error(ml.get("/v1/models/nope/significance"), 404)["code"] == "not_found"
        assert _error(ml.get("/v1/models/triage/significance", params={"challenger": "99"}),
                      404)["code"] == "not_found"
    with world.client("acme", "analyst") as analyst:
        assert _error(analyst.get("/v1/models/triage/significance"), 403)["code"] == \
            "permission_denied"
