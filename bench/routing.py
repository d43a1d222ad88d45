"""Routing check on the ServiceNow incident log: assignment group from open-time fields.

Run: ``.venv/bin/python bench/routing.py``.

Each incident contributes its first row (lowest ``sys_mod_count``): the fields known when it
was opened. The target is the group that held it last (where it was resolved); the first
row's group is reported too, as it is what a dispatcher picked. The split is by time
(``opened_at``): the oldest 80% train, the newest 20% test, so nothing from the future leaks.
Compared with the most-frequent-group baseline (top-1 and top-3).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

SOURCE = (Path(os.environ.get("SUPPORTOPS_SHARED", "/work/shared")) / "data"
          / "incident_event_log" / "incident_event_log.csv.gz")
FIELDS = ["caller_id", "contact_type", "location", "category", "subcategory", "u_symptom",
          "impact", "urgency", "priority"]


def _incidents() -> Any:
    import pandas as pd

    events = pd.read_csv(SOURCE, dtype=str, keep_default_na=False)
    events["sys_mod_count"] = events["sys_mod_count"].astype(int)
    events = events.sort_values(["number", "sys_mod_count"], kind="stable")
    first = events.groupby("number").head(1).set_index("number")
    last = events.groupby("number").tail(1).set_index("number")
    first["final_group"] = last["assignment_group"]
    first["opened"] = pd.to_datetime(first["opened_at"], format="%d/%m/%Y %H:%M")
    return first.sort_values("opened")


def _topk_hits(proba: Any, classes: Any, truth: Any, k: int) -> float:
    top = np.argsort(-proba, axis=1)[:, :k]
    return float(np.mean([t in set(classes[row]) for t, row in zip(truth, top, strict=True)]))


def _evaluate(train: Any, test: Any, target: str) -> dict[str, Any]:
    from supportops.ml.estimators import FieldClassifier
    from supportops.triage.abstention import triage_metrics

    train = train[train[target] != "?"]
    test = test[test[target] != "?"]
    start = time.perf_counter()
    clf = FieldClassifier(FIELDS, n_estimators=ARGS.trees, max_depth=6, n_jobs=2)
    clf.fit(train, train[target].tolist())
    fit_s = time.perf_counter() - start
    proba = clf.predict_proba(test)
    truth = test[target].to_numpy()
    popular = train[target].value_counts().index.to_numpy()
    seen = np.isin(truth, clf.classes_)
    return {
        "target": target, "train": len(train), "test": len(test),
        "groups": len(clf.classes_), "unseen_group_rows": int((~seen).sum()),
        "fit_s": round(fit_s, 1),
        "accuracy": round(float(np.mean(clf.classes_[proba.argmax(1)] == truth)), 4),
        "top3": round(_topk_hits(proba, clf.classes_, truth, 3), 4),
        "baseline_accuracy": round(float(np.mean(truth == popular[0])), 4),
        "baseline_top3": round(float(np.mean(np.isin(truth, popular[:3]))), 4),
        **{k: round(v, 4) for k, v in
           triage_metrics(truth[seen], proba[seen], clf.classes_).items() if "coverage" in k},
    }


def main() -> int:
    if not SOURCE.exists():
        print(f"SKIP: {SOURCE} is absent; this benchmark needs the shared incident log "
              "(set SUPPORTOPS_SHARED to its parent folder).")
        return 0
    incidents = _incidents()
    cut = int(len(incidents) * 0.8)
    train, test = incidents.iloc[:cut], incidents.iloc[cut:]
    print(f"incidents: {len(incidents)}; train opened {train['opened'].min():%Y-%m-%d}.."
          f"{train['opened'].max():%Y-%m-%d}, test ..{test['opened'].max():%Y-%m-%d}",
          flush=True)
    for target in ("final_group", "assignment_group"):
        print(_evaluate(train, test, target), flush=True)
    return 0


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=int, default=150)
    return parser.parse_args()


if __name__ == "__main__":
    ARGS = _args()
    sys.exit(main())
