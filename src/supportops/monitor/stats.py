"""The statistics monitoring rests on, each a small pure function: distributions kept over at
least k subjects, Jensen-Shannon and PSI between two of them, a domain classifier's AUC on
embeddings, and CBPE-style accuracy estimated from calibrated confidences."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

#: A value enters a stored distribution only when at least this many distinct subjects have it.
K_SUBJECTS = 3
OTHER = "(other)"
EPS = 1e-6


def k_distribution(values: Sequence[str | None], subjects: Sequence[str | None],
                   k: int = K_SUBJECTS) -> dict[str, int]:
    """Counts per value; values seen with fewer than ``k`` subjects are pooled as ``(other)``
    (a row without a subject counts as a subject of its own)."""
    owners: dict[str, set[Any]] = {}
    counts: Counter[str] = Counter()
    for row, (value, subject) in enumerate(zip(values, subjects, strict=True)):
        if value is None:
            continue
        owners.setdefault(str(value), set()).add(subject or ("row", row))
        counts[str(value)] += 1
    out: dict[str, int] = {}
    for value, n in counts.items():
        key = value if len(owners[value]) >= k else OTHER
        out[key] = out.get(key, 0) + n
    return out


def _aligned(p: Mapping[str, float], q: Mapping[str, float]) -> tuple[npt.NDArray[np.float64],
                                                                      npt.NDArray[np.float64]]:
    keys = sorted(set(p) | set(q))
    a = np.array([float(p.get(k, 0)) for k in keys]) + EPS
    b = np.array([float(q.get(k, 0)) for k in keys]) + EPS
    return a / a.sum(), b / b.sum()


def jensen_shannon(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) between two count maps."""
    a, b = _aligned(p, q)
    m = (a + b) / 2
    return float(0.5 * (a * np.log2(a / m)).sum() + 0.5 * (b * np.log2(b / m)).sum())


def psi(reference: Mapping[str, float], current: Mapping[str, float]) -> float:
    """Population stability index of ``current`` against ``reference``."""
    a, b = _aligned(reference, current)
    return float(((b - a) * np.log(b / a)).sum())


def null_js_quantile(reference: Mapping[str, float], n: int, q: float = 0.99,
                     draws: int = 200, seed: int = 0) -> float:
    """The ``q`` quantile of the JS divergence of an ``n``-sample drawn from ``reference``
    itself: how large the divergence gets by chance alone at this window size."""
    keys = sorted(reference)
    p = np.array([float(reference[k]) for k in keys])
    p = p / p.sum()
    rng = np.random.default_rng(seed)
    values = [jensen_shannon(reference, dict(zip(keys, rng.multinomial(n, p).tolist(),
                                                 strict=True))) for _ in range(draws)]
    return float(np.quantile(values, q))


def domain_auc(reference: npt.NDArray[np.float32], current: npt.NDArray[np.float32],
               folds: int = 5, seed: int = 0) -> float:
    """Out-of-fold ROC AUC of a classifier telling ``current`` rows from ``reference`` rows:
    0.5 when they cannot be told apart, 1.0 when they never overlap."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = np.vstack([reference, current]).astype(np.float64)
    y = np.r_[np.zeros(len(reference)), np.ones(len(current))]
    splits = min(folds, len(current), len(reference))
    if splits < 2:
        return 0.5
    cv = StratifiedKFold(splits, shuffle=True, random_state=seed)
    clf = LogisticRegression(C=1.0, max_iter=500, class_weight="balanced")
    score = cross_val_predict(clf, x, y, cv=cv, method="decision_function")
    return float(roc_auc_score(y, score))


def auc_noise(n_reference: int, n_current: int) -> float:
    """Standard deviation of the AUC of an uninformative score (Mann-Whitney under H0)."""
    n0, n1 = max(n_reference, 1), max(n_current, 1)
    return math.sqrt((n0 + n1 + 1) / (12 * n0 * n1))


def fit_calibration(confidence: Iterable[float], correct: Iterable[bool]) -> dict[str, list[float]]:
    """Isotonic map from a prediction's confidence to its chance of being right, fitted on
    held-out rows; stored as breakpoints (aggregates, no row)."""
    from sklearn.isotonic import IsotonicRegression

    conf = np.asarray(list(confidence), dtype=np.float64)
    hit = np.asarray(list(correct), dtype=np.float64)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(conf, hit)
    return {"x": [round(float(v), 6) for v in iso.X_thresholds_],
            "y": [round(float(v), 6) for v in iso.y_thresholds_]}


def calibrated(confidence: npt.ArrayLike, calibration: Mapping[str, Sequence[float]] | None
               ) -> npt.NDArray[np.float64]:
    """Each confidence mapped through the stored calibration (as is without one)."""
    conf = np.asarray(confidence, dtype=np.float64)
    if not calibration or len(calibration.get("x", ())) < 2:
        return conf
    return np.asarray(np.interp(conf, np.asarray(calibration["x"]),
                                np.asarray(calibration["y"])), dtype=np.float64)


def estimated_accuracy(confidence: npt.ArrayLike,
                       calibration: Mapping[str, Sequence[float]] | None) -> float:
    """CBPE: expected accuracy = mean calibrated confidence of the top prediction."""
    values = calibrated(confidence, calibration)
    return float(values.mean()) if len(values) else float("nan")


def histogram(values: npt.ArrayLike, bins: int = 20) -> list[int]:
    """Counts of values in [0, 1] over ``bins`` equal bins."""
    counts, _ = np.histogram(np.clip(np.asarray(values, dtype=np.float64), 0, 1), bins=bins,
                             range=(0.0, 1.0))
    return [int(c) for c in counts]


def percentiles(values: Sequence[float], points: Sequence[int] = (50, 95, 99)) -> dict[str, float]:
    """``{"p50": .., "p95": .., "p99": ..}`` of ``values`` (empty: no keys)."""
    if not values:
        return {}
    arr = np.asarray(values, dtype=np.float64)
    return {f"p{p}": round(float(np.percentile(arr, p)), 4) for p in points}
