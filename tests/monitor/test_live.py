"""Live monitoring: every served prediction is recorded (off the serving path), the
challenger answers in shadow, ``monitor run`` raises an audited alarm on drifted traffic and
retrains once (running it again changes nothing), ``monitor status`` shows it all."""

from __future__ import annotations

from pathlib import Path

from supportops import Tenant
from tests.helpers import event, write_jsonl
from tests.ml.test_lifecycle import TOPICS
from tests.monitor.test_feedback import ingest_topics
from tests.monitor.test_report import OFF_TOPIC, _seed_encoder

NEW = ["", "hi, "]  # phrased as in training: a stationary stream


def _ingest_live(tenant: Tenant, tmp_path: Path) -> tuple[list[dict[str, str]],
                                                          list[dict[str, str]]]:
    inside = [{"id": f"N-{topic}-{i}", "text": f"{g}{t}", "topic": topic}
              for topic, texts in TOPICS.items()
              for i, (g, t) in enumerate((g, t) for g in NEW for t in texts)]
    outside = [{"id": f"O-{i}", "text": f"{g}{t}"}
               for i, (g, t) in enumerate((g, t) for g in ("", "please, ", "quick one: ")
                                          for t in OFF_TOPIC)]
    lines = [event("ticket.created", x["id"], "2024-04-01T10:00:00Z", subject=f"live-{i % 5}",
                   text=x["text"]) for i, x in enumerate(inside + outside)]
    tenant.ingest(write_jsonl(tmp_path / "live.jsonl", lines), "jsonl")
    return inside, outside


def test_live_records_alarms_and_idempotent_run(tenant: Tenant, tmp_path: Path) -> None:
    ingest_topics(tenant, tmp_path)
    _seed_encoder(tenant, tmp_path)
    tenant.triage.train("intents", "category", encoder="none")
    inside, outside = _ingest_live(tenant, tmp_path)
    monitor = tenant.monitor
    monitor.set_threshold("min_window", 20)
    monitor.set_threshold("live_window", 30)

    for x in inside:
        served = tenant.triage.predict_one(x["text"], name="intents", ticket_id=x["id"])
        if served["label"] is not None and x["id"].endswith(("-0", "-1")):
            action = "accept" if served["label"] == x["topic"] else "correct"
            tenant.triage.feedback(x["id"], name="intents", final=x["topic"],
                                   predicted=served["label"], action=action)
    calm = tenant.monitor.run()
    (check,) = calm["checks"]
    assert check["checked"] == 30 and not check["figures"]["input_drift"]["alarm"], check
    assert calm["retrained"] == []

    for x in outside:
        tenant.triage.predict_one(x["text"], name="intents", ticket_id=x["id"])
    alarmed = tenant.monitor.run()
    kinds = {a["kind"] for a in alarmed["checks"][0]["alarms"]}
    assert "input_drift" in kinds
    (retrained,) = alarmed["retrained"]
    assert (retrained["version"], retrained["alias"]) == ("2", "challenger")
    assert "input_drift" in retrained["reason"]
    assert any(e.action == "monitor.alarm" and e.details["kind"] == "input_drift"
               for e in tenant.audit.list(action="monitor.alarm"))

    again = tenant.monitor.run()  # the same traffic: no new alarm, no new version
    assert again["checks"][0]["alarms"] == [] and again["retrained"] == []
    assert [v["version"] for v in tenant.triage.versions("intents")] == ["1", "2"]

    tenant.triage.predict_one(inside[0]["text"], name="intents", ticket_id=inside[0]["id"])  # shadowed
    status = tenant.monitor.status("intents")
    (model,) = status["models"]
    assert (model["champion"], model["challenger"]) == ("1", "2")
    v1 = model["versions"]["1"]
    assert v1["served"] == len(inside) + len(outside) + 1
    assert set(v1["latency_ms"]) == {"p50", "p95", "p99"} and v1["feedback"] == 6
    assert model["versions"]["2"]["aliases"] == ["challenger"]
    assert [a["kind"] for a in model["alarms"]] == sorted(kinds, key=[
        a["kind"] for a in alarmed["checks"][0]["alarms"]].index)
    assert status["thresholds"]["live_window"] == 30


def test_erasure_reaches_prediction_records_and_references(tenant: Tenant,
                                                           tmp_path: Path) -> None:
    from sqlalchemy import select

    from supportops.monitor.tables import prediction_records

    ingest_topics(tenant, tmp_path)
    tenant.triage.train("intents", "category", encoder="none")
    ref_ids = set(tenant.monitor.reference("intents", "1")["embedding"]["event_ids"])
    tickets = {"T-refund-0": "cust-1", "T-refund-1": "cust-2"}  # i % 4 picks the customer
    for ticket in tickets:
        tenant.triage.predict_one("please refund the double charge", name="intents", ticket_id=ticket)
    assert tenant.monitor.flush() == 2
    opening = {e.ticket_id: e.id for e in tenant.events.tail(1000, "ticket.created")}
    assert opening["T-refund-0"] in ref_ids

    tenant.privacy.erase("cust-1")
    with tenant.db.begin(tenant.id) as conn:
        left = conn.execute(select(prediction_records.c.ticket_id)).scalars().all()
    assert left == ["T-refund-1"]
    after = set(tenant.monitor.reference("intents", "1")["embedding"]["event_ids"])
    assert opening["T-refund-0"] not in after and opening["T-refund-1"] in after
    assert len(after) == len(ref_ids) - 15  # cust-1 opened 15 of the 60 tickets

    ran = tenant.monitor.run()  # the pending erasure retrain is carried out, once
    assert ran["erasure_retrains"]["count"] == 1 and ran["retrained"] == []
    assert tenant.monitor.run()["erasure_retrains"] is None


def test_challenger_shadows_a_flush_in_one_call(tenant: Tenant, tmp_path: Path) -> None:
    """The recorder asks the registry for the challenger once per model and flush, not once
    per served batch: each ask is a registry query, on a thread that shares the interpreter
    with serving."""
    ingest_topics(tenant, tmp_path)
    tenant.triage.train("intents", "category", encoder="none")
    tenant.triage.train("intents", "category", encoder="none", alias="challenger")
    texts = [t for texts in TOPICS.values() for t in texts][:6]
    recorder = tenant.prediction_recorder()
    real, calls = recorder.shadow, []
    assert real is not None

    def counted(name: str, lines: list[dict[str, object]],
                rows: list[dict[str, object]]) -> object:
        calls.append(len(lines))
        return real(name, lines, rows)

    recorder.shadow = counted
    with recorder._lock:  # the background flush waits: every batch goes in the next flush
        for text in texts:
            tenant.triage.predict_one(text, name="intents")
    assert recorder.flush() == 2 * len(texts)  # champion and challenger rows
    assert calls == [len(texts)]
    status = tenant.monitor.status("intents")["models"][0]
    assert status["versions"]["2"]["served"] == len(texts)
