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

``--select`` also prints the dev figures of each blend of the field model (``linear_weight``
x geometric / arithmetic mean, see ``FieldClassifier``): the members are fitted once on the
fit part, each blend is calibrated on the classifier's own inner fold as ``fit`` would, and
scored on the dev part only. That table is how the product's default blend was chosen; the
test part plays no part in it.
"""

from __future__ import annotations

import argparse
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


def _select(parts: dict[str, list[dict[str, Any]]],
            weights: list[float]) -> list[dict[str, Any]]:
    """Dev figures of each blend, the members fitted once on the fit part (see module doc)."""
    import numpy as np

    from supportops.ml.estimators import (
        BLENDS,
        blend_logits,
        calibration_split,
        fit_temperature,
        softmax,
    )
    from supportops.triage.model import TriageModel, field_frame, validation_summary

    fit, dev = parts["fit"], parts["dev"]
    labels = [str(r["group"]) for r in fit]
    model = TriageModel(kind="fields", target="group")  # the product's classifier, as in fit
    clf = model._new_classifier(fit + dev, len(set(labels))).set_params(linear_weight=1.0)
    frame, y_idx = clf.learn_encoding(field_frame(fit, model.columns_), labels)
    inner, held = calibration_split(y_idx, clf.calibration_fraction, clf.random_state)
    held_logits = clf.member_logits(clf.fit_members(frame.iloc[inner], y_idx[inner]),
                                    frame.iloc[held])
    dev_logits = clf.member_logits(clf.fit_members(frame, y_idx),
                                   clf._frame(field_frame(dev, model.columns_)))
    truth = np.array([str(r["group"]) for r in dev], dtype=object)
    out = []
    for blend in BLENDS:
        for w in weights:
            t = fit_temperature(blend_logits(held_logits[0], held_logits[1], w, blend), y_idx[held])
            proba = softmax(blend_logits(dev_logits[0], dev_logits[1], w, blend), t)
            out.append({"linear_weight": w, "blend": blend,
                        **_figures(validation_summary(proba, truth, clf.classes_))})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--select", action="store_true",
                        help="also print each blend's dev figures (how the default was chosen)")
    parser.add_argument("--weights", default="0,0.25,0.5,0.75,1",
                        help="linear weights for --select, comma-separated")
    args = parser.parse_args()
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
            trained = tenant.triage.train("routing", "group", data=SOURCE,
                                          format="servicenow-incidents")
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
        if args.select:
            for line in _select(parts, [float(w) for w in args.weights.split(",")]):
                print(json.dumps({"dev_blend": line}))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
