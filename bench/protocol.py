"""The honest evaluation protocol shared by the benches that train through the product.

1. Carve the shared training file into train / dev / test parts with a fixed seed
   (:func:`carve`); the test part is written once and never read while choosing.
2. Train with the product's own code path (``tenant.triage.train``: ingest, snapshot, split,
   fit, threshold, register), on the train part only, in a fresh workspace per setting.
3. Score every candidate setting on dev (``TriageService.evaluate``, the ``eval triage``
   path); choose on dev only; then score the chosen setting on test, once.
4. Print dev and test figures side by side, with baselines fitted in the same process.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: The shared data sets: ``../shared/data`` beside the checkout, or ``$SUPPORTOPS_SHARED/data``.
SHARED_DATA = Path(os.environ.get("SUPPORTOPS_SHARED",
                                  Path(__file__).resolve().parents[2] / "shared")) / "data"

#: Figures printed for each setting (the eval contract plus coverage at precision .80 and the
#: coverage and precision of the model's own default threshold).
FIGURES = ("accuracy", "macro_f1", "top3_accuracy", "coverage", "precision_when_answering",
           "coverage_at_p80", "coverage_at_p90", "coverage_at_p95")


def carve(n: int, strata: Sequence[str], fractions: tuple[float, float],
          seed: int) -> tuple[list[int], list[int], list[int]]:
    """Indices (train, dev, test): ``fractions`` = (dev, test) share of each stratum, drawn
    with ``seed``; a stratum of fewer than three rows stays in train."""
    rng = np.random.default_rng(seed)
    by: dict[str, list[int]] = {}
    for i in range(n):
        by.setdefault(strata[i], []).append(i)
    parts: tuple[list[int], list[int], list[int]] = ([], [], [])
    for key in sorted(by):
        rows = [int(i) for i in rng.permutation(by[key])]
        if len(rows) < 3:
            parts[0].extend(rows)
            continue
        n_test = max(1, round(len(rows) * fractions[1]))
        n_dev = max(1, round(len(rows) * fractions[0])) if fractions[0] else 0
        parts[2].extend(rows[:n_test])
        parts[1].extend(rows[n_test : n_test + n_dev])
        parts[0].extend(rows[n_test + n_dev :])
    return sorted(parts[0]), sorted(parts[1]), sorted(parts[2])


def split_rows(rows: Sequence[dict[str, str]], parts: tuple[Sequence[int], ...]
               ) -> dict[str, list[dict[str, str]]]:
    """The rows of each carved part (train, dev, test), by index."""
    return {name: [rows[i] for i in idx]
            for name, idx in zip(("train", "dev", "test"), parts, strict=True)}


def write_csv(path: Path, rows: Sequence[dict[str, str]]) -> Path:
    """Rows in the product's ``csv`` ticket format (columns from the first row)."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


class ProductRun:
    """A model trained through ``tenant.triage.train`` (ingest, snapshot, split, fit,
    threshold, register) in a fresh workspace of its own, scored later on any labelled file
    through ``TriageService.evaluate`` (the ``eval triage`` path). Close it when done."""

    def __init__(self, train: Path, fmt: str, target: str, **options: Any) -> None:
        from supportops import Workspace

        self.fmt = fmt
        self.root = Path(tempfile.mkdtemp(prefix="supportops-bench-"))
        self.workspace = Workspace.init(self.root / "ws")
        self.workspace.create_tenant("bench")
        self.tenant = self.workspace.tenant("bench")
        started = time.perf_counter()
        trained = self.tenant.triage.train("bench", target, data=train, format=fmt, **options)
        self.train_s = round(time.perf_counter() - started, 1)
        self.internal: dict[str, Any] = trained["metrics"]

    def score(self, path: Path) -> dict[str, Any]:
        """The champion's metrics on a labelled file (pseudonymised as ingestion would)."""
        from supportops.events.importers import importer_for
        from supportops.triage.service import rows_from_items

        service = self.tenant.triage.service
        rows = rows_from_items(importer_for(self.fmt)(path, None), service.privacy)
        return dict(service.evaluate("bench", rows)["metrics"])

    def close(self) -> None:
        self.workspace.close()
        shutil.rmtree(self.root, ignore_errors=True)


def choose_on_dev(candidates: dict[str, dict[str, Any]], dev: Path, test: Path, fmt: str,
                  target: str, key: str) -> dict[str, Any]:
    """Train each candidate setting, score it on dev, keep the best by ``key`` on dev, and
    only then score that one on test. Prints one line per candidate and the verdict."""
    runs: dict[str, ProductRun] = {}
    scores: dict[str, dict[str, Any]] = {}
    try:
        for name, options in candidates.items():
            runs[name] = ProductRun(options.pop("train"), fmt, target, **options)
            scores[name] = runs[name].score(dev)
            print(json.dumps({"setting": name, "train_s": runs[name].train_s,
                              "dev": figures(scores[name]),
                              "too_rare_to_evaluate": runs[name].internal.get(
                                  "too_rare_to_evaluate"),
                              # the product's own choice, on its internal validation part
                              "text_setting": runs[name].internal.get("text_setting"),
                              "setting_accuracy": runs[name].internal.get("setting_accuracy")}),
                  flush=True)
        chosen = max(scores, key=lambda n: float(scores[n][key]))
        test_scores = runs[chosen].score(test)
        verdict = {"chosen_on_dev": chosen, "by": key, "dev": figures(scores[chosen]),
                   "test": figures(test_scores),
                   "precision_target": runs[chosen].internal["precision_target"],
                   "validation_split": runs[chosen].internal["validation_split"]}
        print(json.dumps(verdict), flush=True)
        return verdict
    finally:
        for run in runs.values():
            run.close()


def figures(metrics: dict[str, Any]) -> dict[str, Any]:
    """The protocol's figures of one evaluation, rounded."""
    return {k: round(float(metrics[k]), 4) for k in FIGURES if k in metrics}


def tfidf_svm_baseline(train_x: list[str], train_y: list[str],
                       parts: dict[str, tuple[list[str], list[str]]]) -> dict[str, Any]:
    """The field's plain baseline, same process: word TF-IDF + linear SVM, top-1 figures."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    model = make_pipeline(TfidfVectorizer(sublinear_tf=True), LinearSVC()).fit(train_x, train_y)
    out: dict[str, Any] = {}
    for name, (x, y) in parts.items():
        pred = model.predict(x)
        out[name] = {"accuracy": round(float(accuracy_score(y, pred)), 4),
                     "macro_f1": round(float(f1_score(y, pred, average="macro",
                                                      zero_division=0)), 4)}
    return out


def most_frequent_baseline(train_y: Sequence[str],
                           parts: dict[str, Sequence[str]]) -> dict[str, float]:
    """Accuracy of always answering the most frequent training label."""
    top = max(set(train_y), key=list(train_y).count)
    return {name: round(float(np.mean([t == top for t in y])), 4) for name, y in parts.items()}
