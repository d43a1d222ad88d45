"""Models you can reproduce: two fresh workspaces fed the same Banking77 rows train the same
model (metrics and state digest), ``models reproduce`` rebuilds a version and says whether
it matches, a changed snapshot is refused, a version holding erased data is refused naming
its replacement, the model card states what it must, and the code version knows edits."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from supportops import Tenant, ValidationFailed, Workspace
from supportops.datasets.snapshots import list_snapshots
from supportops.ml.registry import LINEAGE_TAG
from tests.conftest import shared_file
from tests.ml.test_lifecycle import TOPICS
from tests.ml.test_retrain import _ingest

EXE = str(Path(sys.executable).with_name("supportops"))
#: Every EVERY-th row of the Banking77 training file: all 77 intents, ~1,250 rows, and a
#: dozen texts in which the detector finds a name or a place (tokens differ per workspace).
EVERY = 8


def _cli(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUPPORTOPS_WORKSPACE": str(ws.path)}
    env.pop("SUPPORTOPS_TENANT", None)
    if ws.db.is_postgres:
        env["SUPPORTOPS_DATABASE_URL"] = ws.db.url
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=600)


def _slice(tmp_path: Path) -> Path:
    source = shared_file("banking77/train.csv")
    out = tmp_path / "banking77-slice.csv"
    with source.open(newline="") as src, out.open("w", newline="") as dst:
        rows = list(csv.DictReader(src))
        writer = csv.DictWriter(dst, fieldnames=["text", "category"])
        writer.writeheader()
        writer.writerows(rows[::EVERY])
    return out


def _train_fresh(folder: Path, data: Path) -> tuple[Workspace, dict[str, Any]]:
    ws = Workspace.init(folder)
    ws.create_tenant("acme")
    result = ws.tenant("acme").triage.train("intents", "category", data=data, format="banking77")
    return ws, result


def _record(tenant: Tenant, version: str = "1") -> dict[str, Any]:
    record = tenant.triage.service.registry.lineage("acme", "intents", version)
    assert record is not None
    return record


def test_two_fresh_workspaces_train_the_same_model_and_reproduce_says_so(
        tmp_path: Path) -> None:
    data = _slice(tmp_path)
    started = time.perf_counter()
    first, one = _train_fresh(tmp_path / "one", data)
    second, two = _train_fresh(tmp_path / "two", data)
    try:
        a, b = first.tenant("acme"), second.tenant("acme")
        rows = [list_snapshots(t.db, t.ctx)[-1].read().to_pylist() for t in (a, b)]
        texts = [[r["text"] for r in part] for part in rows]
        assert texts[0] != texts[1]  # the tenants' keys write other tokens: the trap is set
        labels = [{r["category"] for r in part} for part in rows]
        assert labels[0] != labels[1]  # one label is a token too (Refund_not_showing_up)
        one["metrics"].pop("train_seconds")
        two["metrics"].pop("train_seconds")
        assert one["metrics"] == two["metrics"]  # threshold, coverage, ... to the last bit
        rec_a, rec_b = _record(a), _record(b)
        assert rec_a["state_digest"] == rec_b["state_digest"]
        assert rec_a["encoder"] == rec_b["encoder"] and rec_a["encoder"]["digest"]
        assert rec_a["estimator"] == rec_b["estimator"]
        assert one["digest"] != two["digest"]  # event ids and ingestion times differ

        done = _cli(first, "models", "reproduce", "intents", "1", "--tenant", "acme", "--json")
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout)
        assert {"model", "version", "match", "metrics", "differences"} <= set(out)
        assert out["match"] is True and out["differences"] == []
        assert out["state_digest"] == rec_a["state_digest"]
        assert out["metrics"]["accuracy"] == one["metrics"]["accuracy"]
    finally:
        first.close()
        second.close()
    print(f"\ntwo trainings and a reproduce: {time.perf_counter() - started:.1f} s; threshold "
          f"{one['metrics']['threshold']}, state digest {rec_a['state_digest'][:16]}")


def test_a_run_records_its_lineage(tenant: Tenant, tmp_path: Path) -> None:
    _ingest(tenant, tmp_path)
    tenant.triage.train("intents", "category", encoder="none")
    record = _record(tenant)
    snap = list_snapshots(tenant.db, tenant.ctx)[-1]
    assert record["snapshot"] == {
        "id": snap.id, "digest": snap.digest, "log_position": snap.log_position,
        "rows": snap.row_count, "exclusions": {"opted_out_subjects": 0, "erased_tickets": 0}}
    params = record["estimator"]["params"]
    assert record["estimator"]["class"] == "supportops.triage.model.TriageModel"
    assert params["encoder"] is None and params["target"] == "category"
    assert params["min_coverage"] == 0.8 and params["random_state"] == 0
    assert len(record["state_digest"]) == 64 and record["encoder"] is None
    assert record["detector"]["model"] and len(record["detector"]["digest"]) == 64
    assert record["libraries"]["scikit-learn"] and record["libraries"]["numpy"]
    assert {"version", "commit", "dirty", "changes"} == set(record["code"])


def test_a_changed_record_makes_reproduce_say_no(tenant: Tenant, tmp_path: Path) -> None:
    _ingest(tenant, tmp_path)
    models = tenant.triage
    models.train("intents", "category", encoder="none")
    assert models.reproduce("intents", "1")["match"] is True
    record = _record(tenant)
    record["state_digest"] = "0" * 64
    run_id = tenant.triage.service.registry.version("acme", "intents", "1")["run_id"]
    tenant.triage.service.registry.client.set_tag(run_id, LINEAGE_TAG, orjson.dumps(record).decode())
    result = models.reproduce("intents", "1")
    assert result["match"] is False
    assert [d["field"] for d in result["differences"]] == ["state_digest"]
    done = _cli(tenant.workspace, "models", "reproduce", "intents", "1", "--tenant", "acme")
    assert done.returncode == 1 and "does NOT match" in done.stdout
    assert "state_digest: recorded '0000" in " ".join(done.stdout.split())


def test_a_changed_or_corrupted_snapshot_is_refused(tenant: Tenant, tmp_path: Path) -> None:
    _ingest(tenant, tmp_path)
    snap = tenant.datasets.create("all", "category")
    assert snap.read().num_rows == snap.row_count
    table = snap.read()
    texts = table.column("text").to_pylist()
    texts[0] = texts[0] + " (edited)"
    pq.write_table(table.set_column(table.schema.get_field_index("text"), "text",
                                    pa.array(texts, pa.string())), snap.path)
    with pytest.raises(ValidationFailed, match=r"was changed or corrupted.*digest") as why:
        snap.read()
    assert "\n" not in str(why.value) and snap.id in str(why.value)
    snap.path.write_bytes(b"PAR1 not a parquet file")
    with pytest.raises(ValidationFailed, match="cannot be read"):
        snap.read()


def test_a_version_with_erased_data_is_refused_naming_its_replacement(
        tenant: Tenant, tmp_path: Path) -> None:
    _ingest(tenant, tmp_path)
    models = tenant.triage
    models.train("intents", "category", encoder="none")
    tenant.privacy.erase("cust-1")
    with pytest.raises(ValidationFailed, match="retrain-flagged' first"):
        models.reproduce("intents", "1")
    (done,) = models.retrain_flagged(margin=0.5)["models"]
    assert done["new_version"] == "2"
    result = _cli(tenant.workspace, "models", "reproduce", "intents", "1", "--tenant", "acme")
    assert result.returncode != 0 and result.stdout == ""
    line = result.stderr.strip()
    assert "\n" not in line and "holds erased data" in line
    assert "retrained replacement is version 2" in line
    assert models.reproduce("intents", "2")["match"] is True  # the replacement rebuilds


def test_the_model_card_states_data_exclusions_metrics_abstention_limits(
        tenant: Tenant, tmp_path: Path) -> None:
    _ingest(tenant, tmp_path)
    tenant.privacy.opt_out("cust-2")
    tenant.triage.train("intents", "category", encoder="none")
    done = _cli(tenant.workspace, "models", "card", "intents", "1", "--tenant", "acme")
    assert done.returncode == 0, done.stderr
    for section in ("Model card: intents version 1", "Data", "snapshot:", "log_position:",
                    "Exclusions", "opted_out_subjects: 1", "Metrics by class", "Abstention",
                    "threshold:", "precision_when_answering:", "Known limits",
                    "No sentence encoder"):
        assert section in done.stdout, section
    card = json.loads(_cli(tenant.workspace, "models", "card", "intents", "1", "--tenant",
                           "acme", "--json").stdout)
    assert card["data"]["rows"] == card["data"]["train_rows"] + card["data"]["test_rows"]
    assert set(card["metrics_by_class"]) == set(TOPICS)
    assert all(v["support"] >= 0 and 0 <= v["recall"] <= 1
               for v in card["metrics_by_class"].values())
    assert sum(v["support"] for v in card["metrics_by_class"].values()) == \
        card["data"]["test_rows"]
    assert card["abstention"]["coverage"] is not None and card["known_limits"]
    missing = _cli(tenant.workspace, "models", "card", "intents", "1")
    assert missing.returncode != 0  # --tenant is required: nothing is created


def _load_version_module(folder: Path) -> Any:
    spec = importlib.util.spec_from_file_location("copied_version", folder / "version.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_code_version_carries_a_dirty_flag(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("needs git")
    package = tmp_path / "checkout" / "pkg"
    package.mkdir(parents=True)
    shutil.copy(Path(__file__).parents[2] / "src" / "supportops" / "version.py", package)
    (package / "model.py").write_text("A = 1\n")
    git = ["git", "-C", str(package.parent), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    clean = _load_version_module(package)
    assert clean.code_state()["dirty"] is False and "dirty" not in clean.code_version()
    (package / "model.py").write_text("A = 2\n")
    first = clean.code_version()
    assert ".dirty-" in first and clean.code_state()["dirty"] is True
    (package / "model.py").write_text("A = 3\n")
    assert clean.code_version() != first  # other edits, another digest
    (package / "model.py").write_text("A = 1\n")
    (package / "new.py").write_text("B = 1\n")  # a new, uncommitted module counts too
    assert ".dirty-" in clean.code_version()


_FIT_AND_DIGEST = """
import csv, sys
from supportops.ml.state import state_digest
from supportops.triage.model import TriageModel
rows = [dict(r, subject=None) for r in list(csv.DictReader(open(sys.argv[1])))[:600]]
model = TriageModel("text", None, min_coverage=0.8).fit(rows, [r["category"] for r in rows])
print(state_digest(model))
"""


def test_the_state_digest_is_the_same_in_every_process(tmp_path: Path) -> None:
    """What a fresh process (``models reproduce``) computes: no memory address, no string
    hashing order (scikit-learn keeps the ``id()`` of a vectoriser's stop-word list)."""
    data = _slice(tmp_path)
    digests = set()
    for seed in ("0", "1"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", _FIT_AND_DIGEST, str(data)],
                              capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        digests.add(done.stdout.strip())
    assert len(digests) == 1 and len(next(iter(digests))) == 64
