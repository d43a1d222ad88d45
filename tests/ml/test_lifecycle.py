"""The ML lifecycle end to end on real parts: snapshots that honour opt-out and erasure,
lineage that flags models, the train / predict / eval CLI contracts, MLflow provenance,
promotion and rollback with hot swap, and write-back.

Text models here use ``encoder="none"`` (TF-IDF n-grams only): the sentence encoder has its
own tests and benchmark, and these tests are about the lifecycle around it.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from supportops import Tenant, ValidationFailed, Workspace
from supportops.datasets.snapshots import Snapshot, create_snapshot, get_snapshot
from supportops.events import log
from supportops.ml.registry import Registry
from supportops.triage.model import TriageModel, row_fields
from tests.conftest import shared_file
from tests.helpers import event, write_jsonl

GREETINGS = ["", "hi, ", "hello, ", "urgent: "]
EXE = str(Path(sys.executable).with_name("supportops"))
TOPICS = {
    "card_lost": ["I lost my card yesterday", "my card is lost, please block it",
                  "I cannot find my card anywhere", "card lost on the train",
                  "please freeze my lost card"],
    "refund": ["I want a refund for my order", "please refund the double charge",
               "where is my refund", "refund has not arrived yet", "how long does a refund take"],
    "login": ["I cannot log in to the app", "my password does not work to log in",
              "login fails with an error", "locked out of my account login",
              "the app rejects my login"],
}


def _snapshot(tenant: Tenant, name: str, position: int | None = None) -> Snapshot:
    ws = tenant.workspace
    return create_snapshot(ws.db, tenant.ctx, ws.artifacts, name, position=position,
                           require="category")


def _subjects(snap: Snapshot) -> set[str]:
    return {s for s in snap.read().column("subject").to_pylist() if s}


def _cli(ws: Workspace, *args: str) -> str:
    env = {**os.environ, "SUPPORTOPS_WORKSPACE": str(ws.path)}
    env.pop("SUPPORTOPS_TENANT", None)
    if ws.db.is_postgres:
        env["SUPPORTOPS_DATABASE_URL"] = ws.db.url
    result = subprocess.run([EXE, *args, "--tenant", "acme"], capture_output=True, text=True,
                            env=env, timeout=240)
    assert result.returncode == 0, f"{args}: {result.stderr[-2000:]}"
    return result.stdout


def _json(ws: Workspace, *args: str) -> Any:
    return json.loads(_cli(ws, *args, "--json"))


def _jsonl(ws: Workspace, *args: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _cli(ws, *args, "--json").splitlines() if line.strip()]


# ---------------------------------------------------------------- governed datasets, erasure


def test_snapshots_honour_opt_out_and_erasure_flags_models(
    tenant: Tenant, tmp_path: Path
) -> None:
    customers = ["cust-1", "cust-2", "cust-3"]
    lines = [event("ticket.created", f"T-{topic}-{i}", f"2024-01-01T10:{i:02d}:00Z",
                   subject=customers[i % 3], text=text, category=topic, channel="chat")
             for topic, texts in TOPICS.items()
             for i, text in enumerate(f"{greeting}{t}" for greeting in GREETINGS for t in texts)]
    tenant.ingest(write_jsonl(tmp_path / "tickets.jsonl", lines), "jsonl")
    token = {c: tenant.privacy.subject_token(c) for c in customers}
    tickets_of = {c: sum(1 for line in lines if line["subject"] == c) for c in customers}

    opted = tenant.privacy.opt_out("cust-2")
    snap = _snapshot(tenant, "after-opt-out")
    assert _subjects(snap) == {token["cust-1"], token["cust-3"]}
    assert snap.exclusions == {"opted_out_subjects": [token["cust-2"]], "erased_tickets": 0}
    assert snap.row_count == tickets_of["cust-1"] + tickets_of["cust-3"]
    assert all(token["cust-2"] not in str(v) for v in snap.read().to_pylist())

    again = _snapshot(tenant, "same-content")  # same log position, same rows: same digest
    assert (again.digest, again.log_position) == (snap.digest, snap.log_position)
    assert again.id != snap.id and len(snap.digest) == 64
    edge = tenant.lineage.snapshot(snap.id)
    assert (edge["digest"], edge["log_position"]) == (snap.digest, snap.log_position)
    # lineage names the excluded subject by its keyed reference, never by its token
    assert edge["excluded"] == [tenant.privacy.subject_ref(token["cust-2"])]
    assert edge["subjects"] == 2
    assert edge["state"] == "current"

    before = _snapshot(tenant, "as-of-before", position=int(str(opted["seq"])) - 1)
    assert token["cust-2"] in _subjects(before)  # point in time: not yet opted out then
    tenant.privacy.opt_in("cust-2")
    back = _snapshot(tenant, "after-opt-in")
    assert _subjects(back) == set(token.values()) and back.digest == before.digest
    assert get_snapshot(tenant.workspace.db, tenant.ctx, snap.id).exclusions[
        "opted_out_subjects"] == [token["cust-2"]]  # older snapshots keep what they excluded

    trained = tenant.triage.train("intents", "category", encoder="none")
    assert trained["version"] == "1"
    assert token["cust-1"] in _subjects(get_snapshot(tenant.workspace.db, tenant.ctx,
                                                     trained["snapshot"]))

    report = tenant.privacy.erase("cust-1")
    assert trained["snapshot"] in report["snapshots"] and snap.id in report["snapshots"]
    assert report["models"] == ["intents@1"]
    pending = {(p["action"], p["target"]) for p in tenant.lineage.pending()}
    assert ("retrain_model", "intents@1") in pending
    assert ("rebuild_snapshot", trained["snapshot"]) in pending
    assert tenant.lineage.model("intents", "1")["contains_erased_data"] is True
    listed = _json(tenant.workspace, "models", "list")
    assert [(v["name"], v["version"], v["contains_erased_data"]) for v in listed["data"]] == [
        ("intents", "1", True)]

    fresh = _snapshot(tenant, "after-erasure")
    assert token["cust-1"] not in _subjects(fresh)
    assert fresh.exclusions["erased_tickets"] == tickets_of["cust-1"]
    assert fresh.row_count == tickets_of["cust-2"] + tickets_of["cust-3"]

    rebuilt = _json(tenant.workspace, "datasets", "rebuild-flagged")
    olds = {r["old"]: r["new"] for r in rebuilt["rebuilt"]}
    assert trained["snapshot"] in olds and snap.id in olds
    new = get_snapshot(tenant.workspace.db, tenant.ctx, olds[trained["snapshot"]])
    assert token["cust-1"] not in _subjects(new) and new.row_count == fresh.row_count
    old = get_snapshot(tenant.workspace.db, tenant.ctx, trained["snapshot"])
    assert old.state == "rebuilt" and not old.path.exists()
    assert tenant.lineage.snapshot(old.id)["state"] == "deleted"
    left = {(p["action"], p["target"]) for p in tenant.lineage.pending()}
    assert left == {("retrain_model", "intents@1")}  # retraining stays pending, by policy


# ------------------------------------------------------- train / predict / eval, registry


def _banking77_slices(tmp_path: Path) -> tuple[Path, Path, Path, list[str], list[str]]:
    """Train (8 intents x 40), held-out eval (8 x 15) and a narrower train file (4 intents)."""
    by_label: dict[str, list[str]] = {}
    with shared_file("banking77/train.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            by_label.setdefault(row["category"], []).append(row["text"])
    labels = sorted(by_label)[:8]
    narrow = labels[:4]

    def write(name: str, rows: list[tuple[str, str]]) -> Path:
        path = tmp_path / name
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "category"])
            writer.writerows(rows)
        return path

    train = write("train.csv", [(t, lab) for lab in labels for t in by_label[lab][:40]])
    held = write("eval.csv", [(t, lab) for lab in labels for t in by_label[lab][40:55]])
    small = write("narrow.csv", [(t, lab) for lab in narrow for t in by_label[lab][:40]])
    return train, held, small, labels, narrow


def test_train_predict_eval_promote_rollback_and_write_back(
    tenant: Tenant, tmp_path: Path
) -> None:
    ws = tenant.workspace
    train, held, narrow_file, labels, narrow = _banking77_slices(tmp_path)
    wide_only = [lab for lab in labels if lab not in narrow]

    out = _json(ws, "train", "triage", "--data", str(train), "--format", "banking77",
                "--target", "category", "--name", "intents", "--encoder", "none")
    assert {"model", "version", "metrics"} <= set(out)
    assert (out["model"], out["version"]) == ("intents", "1")
    assert {"accuracy", "macro_f1", "coverage_at_p90", "coverage_at_p95",
            "coverage_at_p99"} <= set(out["metrics"])
    assert out["metrics"]["accuracy"] > 0.6

    # MLflow: the run names its snapshot, with the digest as dataset input and as a tag
    snap = get_snapshot(ws.db, tenant.ctx, out["snapshot"])
    client = Registry.for_tenant(ws.path, "acme").client
    mv = client.get_model_version("acme.intents", "1")
    run = client.get_run(str(mv.run_id))
    assert run.inputs is not None
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.digest == snap.digest[:32]
    assert dataset_input.dataset.name == snap.id
    assert run.data.tags["supportops.snapshot_digest"] == snap.digest == out["digest"]
    assert run.data.tags["supportops.log_position"] == str(snap.log_position)
    assert run.data.params["encoder"] == "none" and run.data.metrics["accuracy"] > 0.6
    assert run.info.run_name == f"acme.intents@{snap.id}"  # never MLflow's random words
    assert str(client.get_model_version_by_alias("acme.intents", "champion").version) == "1"

    # predict: one line per input, exactly the contract; write-back on ticket ids only
    rows = snap.read().to_pylist()
    by_topic = {lab: next(r for r in rows if r["category"] == lab) for lab in labels}
    probe = by_topic[wide_only[0]]
    inputs = [{"id": by_topic[lab]["ticket_id"], "text": by_topic[lab]["text"]} for lab in labels]
    inputs.append({"id": "not-a-ticket", "text": probe["text"]})
    infile = write_jsonl(tmp_path / "in.jsonl", inputs)
    records = _jsonl(ws, "predict", "triage", "--name", "intents", "--file", str(infile),
                     "--write-back")
    assert [r["id"] for r in records] == [line["id"] for line in inputs]
    for r in records:
        reason = {"reason"} if r["abstained"] else set()
        assert set(r) == {"id", "label", "confidence", "top", "abstained", "model", "version",
                          *reason}
        assert (r["model"], r["version"]) == ("intents", "1")
        assert r.get("reason") in ({"low_confidence", "out_of_scope"} if r["abstained"]
                                   else {None})
        assert 0.0 <= r["confidence"] <= 1.0 and len(r["top"]) == 3
        assert all(isinstance(lab, str) and 0.0 <= p <= 1.0 for lab, p in r["top"])
        assert (r["label"] is None) == r["abstained"]
        assert r["label"] in (None, r["top"][0][0])
    written = log.tail(ws.db, tenant.ctx, 100, "ticket.categorized")
    expected = {r["id"] for r in records if not r["abstained"] and r["id"] != "not-a-ticket"}
    assert expected, "the champion abstained on every training ticket"
    assert {e.ticket_id for e in written} == expected
    assert all((e.payload["model"], e.payload["model_version"]) == ("intents", "1")
               for e in written)
    relabelled = _snapshot(tenant, "after-write-back")  # model guesses never become labels
    assert relabelled.log_position > snap.log_position and relabelled.digest == snap.digest

    scored = _json(ws, "eval", "triage", "--name", "intents", "--data", str(held),
                   "--format", "banking77")
    assert (scored["model"], scored["version"]) == ("intents", "1")
    metrics = scored["metrics"]
    assert {"accuracy", "macro_f1", "coverage_at_p90", "coverage_at_p95",
            "coverage_at_p99"} <= set(metrics)
    assert metrics["rows"] == 8 * 15 and metrics["accuracy"] > 0.6
    assert all(scored[k] == metrics[k] for k in ("accuracy", "macro_f1", "coverage_at_p90",
                                                 "coverage_at_p95", "coverage_at_p99"))
    assert all(0.0 <= metrics[k] <= 1.0 for k in ("accuracy", "macro_f1", "coverage_at_p90",
                                                    "coverage_at_p95", "coverage_at_p99"))

    # a second version trained on four intents only: it can never answer the others
    first = tenant.triage.predict_one(probe["text"], name="intents")
    assert first["version"] == "1"
    v2 = tenant.triage.train("intents", "category", data=narrow_file, format="banking77",
                             encoder="none")
    assert v2["version"] == "2"
    served = tenant.triage.predict_one(probe["text"], name="intents")  # same handle: hot-swapped
    assert served["version"] == "2" and {lab for lab, _ in served["top"]} <= set(narrow)

    rolled = _json(ws, "models", "rollback", "intents")
    assert (rolled["version"], rolled["previous"]) == ("1", "2")
    assert tenant.triage.predict_one(probe["text"], name="intents")["version"] == "1"
    (rec,) = _jsonl(ws, "predict", "triage", "--name", "intents", "--file",
                    str(write_jsonl(tmp_path / "one.jsonl", [inputs[-1]])))
    assert rec["top"][0][0] == wide_only[0]  # v1 again: it knows the intent v2 never saw
    with pytest.raises(ValidationFailed, match="not significantly better"):
        tenant.triage.promote("intents", "2")  # the gate: no feedback says 2 is better
    promoted = tenant.triage.promote("intents", "2", force=True)
    assert (promoted["version"], promoted["previous"]) == ("2", "1")
    assert tenant.triage.predict_one(probe["text"], name="intents")["version"] == "2"
    with pytest.raises(ValidationFailed, match="no earlier champion"):
        tenant.triage.rollback("intents")
        tenant.triage.rollback("intents")

    audit = [(e.action, e.details) for e in tenant.audit.list(action="model.*")]
    assert [a for a, _ in audit] == ["model.promote", "model.promote", "model.rollback",
                                     "model.promote", "model.rollback"]
    assert audit[2][1] == {"model": "intents", "from": "2", "to": "1"}
    assert audit[3][1]["version"] == "2" and audit[3][1]["previous"] == "1"
    assert tenant.audit.verify().ok
    listed = tenant.triage.versions("intents")
    assert {v["version"]: v["aliases"] for v in listed} == {"1": ["champion"], "2": []}


@pytest.mark.parametrize("name", ["", "a/b", "x y"])
def test_model_names_are_validated(name: str) -> None:
    with pytest.raises(ValidationFailed, match="model name"):
        Registry.model_name("acme", name)


def test_field_models_see_open_time_fields_only() -> None:
    """Routing features are the fields of a ticket's opening, never what is known later."""
    rows = [{"open_fields": json.dumps({
                "category": f"cat-{i % 4}", "impact": f"{i % 3}", "group": f"g-{i % 2}",
                "resolved_by": f"r-{i % 2}", "made_sla": "true", "closed_code": f"c-{i % 2}",
                "sys_updated_by": "u", "reassignment_count": 1, "status": "New"}),
             "group": f"g-{i % 2}", "priority": "3 - Moderate", "channel": "Phone",
             "category": "final-category"} for i in range(60)]
    model = TriageModel("fields", target="group").fit(rows, [r["group"] for r in rows])
    assert model.columns_ == ["category", "impact"]
    # a value missing at open stays missing: the final state never stands in for it
    assert row_fields({"open_fields": "{}", "priority": "1 - Critical"}) == {}
    assert row_fields({"priority": "1 - Critical"}) == {"priority": "1 - Critical"}
    (record,) = model.predict_records(["x"], [{"open_fields": {"category": "cat-1"}}])
    assert set(record) == {"id", "label", "confidence", "top", "abstained"}
