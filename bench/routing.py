"""Routing on the ServiceNow incident log, through the product: ``train triage --format
servicenow-incidents --target group``, with the product's own settings.

Run: ``.venv/bin/python bench/routing.py``.

The log is ingested into a fresh workspace and ``TriageService.train`` does what a user's
``train triage`` does: snapshot, split by opening time (the newest 20% of incidents are the
test part), fit the structured-field model on the open-time fields, and choose the abstention
threshold (default policy: precision 0.95 unless that answers under 80%) on the most recent
15% of the training period. The target is the group that held the incident last.

Protocol: the dev figures are on that validation part (the only data the threshold looked
at); the test figures are on the newest 20%, which no choice looked at. Both print accuracy,
top-3, coverage at precision 0.80 / 0.90 / 0.95 and the coverage of the default threshold,
next to the most-frequent-group baseline from the same process.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from protocol import SHARED_DATA

SOURCE = SHARED_DATA / "incident_event_log" / "incident_event_log.csv.gz"
FIGURES = ("rows", "accuracy", "top3_accuracy", "coverage_at_p80", "coverage_at_p90",
           "coverage_at_p95", "coverage", "precision_when_answering", "macro_f1")


def _figures(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: round(float(metrics[k]), 4) for k in FIGURES if k in metrics}


def _baseline(train: list[dict[str, Any]], parts: dict[str, list[dict[str, Any]]]) -> Any:
    """Most frequent group(s) of the training part: top-1 and top-3 on each part."""
    popular = [g for g, _ in Counter(r["group"] for r in train).most_common(3)]
    return {name: {"accuracy": round(sum(r["group"] == popular[0] for r in rows) / len(rows), 4),
                   "top3_accuracy": round(sum(r["group"] in popular for r in rows) / len(rows),
                                          4)} for name, rows in parts.items()}


def _parts(tenant: Any, snapshot_id: str) -> dict[str, list[dict[str, Any]]]:
    """The product's own parts of the snapshot: fit, validation (dev) and test."""
    from supportops.datasets.snapshots import get_snapshot
    from supportops.triage.model import TriageModel, holdout_split
    from supportops.triage.service import TEST_FRACTION

    rows = get_snapshot(tenant.workspace.db, tenant.ctx, snapshot_id).read().to_pylist()
    kept, held, _ = holdout_split(rows, [r["group"] for r in rows], TEST_FRACTION, seed=0)
    train = [rows[i] for i in kept]
    defaults = TriageModel()
    fit, val, kind = holdout_split(train, [r["group"] for r in train],
                                   defaults.validation_fraction, defaults.random_state)
    assert kind == "time", "the incident log carries real opening times"
    return {"fit": [train[i] for i in fit], "dev": [train[i] for i in val],
            "test": [rows[i] for i in held]}


def main() -> int:
    if not SOURCE.exists():
        print(f"SKIP: {SOURCE} is absent; this benchmark needs the shared incident log "
              "(set SUPPORTOPS_SHARED to its parent folder).")
        return 0
    from supportops import Workspace

    root = Path(tempfile.mkdtemp(prefix="supportops-routing-"))
    try:
        with Workspace.init(root / "ws") as ws:
            ws.create_tenant("bench")
            tenant = ws.tenant("bench")
            started = time.perf_counter()
            trained = tenant.train_triage(SOURCE, "servicenow-incidents", "group", "routing")
            wall = time.perf_counter() - started
            metrics = trained["metrics"]
            parts = _parts(tenant, trained["snapshot"])
        # dev: the validation part, scored by the model fitted before the refit that the
        # product then does on every training row (TriageModel.validation_)
        dev = {k.removeprefix("validation_"): v for k, v in metrics.items()
               if k.startswith("validation_")}
        dev["precision_when_answering"] = dev.pop("precision")
        times = {k: (str(min(r["opened_at"] for r in v))[:10], str(max(r["opened_at"]
                     for r in v))[:10]) for k, v in parts.items()}
        print(json.dumps({"incidents": sum(len(v) for v in parts.values()), "parts": times,
                          "train_wall_s": round(wall, 1), "fit_s": metrics["train_seconds"],
                          "validation_split": metrics["validation_split"],
                          "precision_target": metrics["precision_target"]}))
        print(json.dumps({"dev": _figures(dev), "test": _figures(metrics)}))
        print(json.dumps({"baseline_most_frequent_group": _baseline(
            parts["fit"], {"dev": parts["dev"], "test": parts["test"]})}))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
