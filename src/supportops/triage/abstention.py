"""Abstention: answer only when confident enough, and never about things never seen.

Two reasons to abstain, both learned from held-out data with the estimator contract:

- ``ConfidenceThreshold``: a probability threshold per task (optionally per predicted
  class) chosen as the *largest coverage whose precision reaches a target*, like
  ServiceNow's precision/coverage knob. Per-class thresholds keep the overall precision at
  or above the target, because every class-wise slice meets it.
- ``OutOfScopeDetector``: cosine similarity in embedding space to the nearest training
  examples; a threshold at a low training quantile flags inputs unlike anything seen.

``prediction_records`` turns probabilities and both verdicts into the record contract, and
``triage_metrics`` computes accuracy, macro-F1 and coverage at precision 0.90/0.95/0.99.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator
from sklearn.metrics import f1_score
from sklearn.utils.validation import check_is_fitted

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Labels = Sequence[Any] | npt.NDArray[Any]  # a list of labels or a classifier's classes_
PRECISION_TARGETS: tuple[float, ...] = (0.90, 0.95, 0.99)


def _wilson_lower(hits: FloatArray, n: FloatArray, z: float) -> FloatArray:
    """Wilson score lower bound of a proportion: z=0 gives the plain point estimate."""
    phat = hits / n
    if z == 0:
        return phat
    centre = phat + z * z / (2 * n)
    spread = z * np.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n))
    return np.asarray((centre - spread) / (1 + z * z / n), dtype=np.float64)


def coverage_at_precision(
    confidence: npt.ArrayLike, correct: npt.ArrayLike, precision: float, z: float = 0.0
) -> tuple[float, float]:
    """Largest coverage whose precision >= ``precision``, and the threshold that gives it.

    Answers are kept when ``confidence >= threshold``; cuts fall only between distinct
    confidence values, so ties are kept or dropped together, as a threshold would. When no
    cut reaches the target the coverage is 0 and the threshold is just above the maximum.
    ``z > 0`` asks the Wilson lower bound (e.g. 1.645: one-sided 95%) to reach the target
    instead of the point estimate: picking the largest coverage at exactly the target is
    optimistic on fresh data, the bound buys that margin back.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    if conf.size == 0:
        return 0.0, 1.0
    order = np.argsort(-conf, kind="stable")
    conf, ok = conf[order], ok[order]
    kept = np.arange(1, conf.size + 1)
    prec = _wilson_lower(np.cumsum(ok).astype(np.float64), kept.astype(np.float64), z)
    last_of_tie = np.append(conf[1:] < conf[:-1], True)
    valid = np.flatnonzero(last_of_tie & (prec >= precision))
    if valid.size == 0:
        return 0.0, float(np.nextafter(conf[0], np.inf))
    cut = int(valid[-1])
    return float(kept[cut] / conf.size), float(conf[cut])


def precision_at_coverage(confidence: npt.ArrayLike, correct: npt.ArrayLike,
                          coverage: float) -> float:
    """Precision of the most confident ``coverage`` share of answers (ties kept together):
    the strictest precision target that still answers at least that share."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    if conf.size == 0:
        return 0.0
    order = np.argsort(-conf, kind="stable")
    conf, ok = conf[order], ok[order]
    last = max(int(np.ceil(coverage * conf.size)) - 1, 0)
    last = int(np.flatnonzero(conf >= conf[last])[-1])  # the whole tie at the cut is kept
    return float(ok[: last + 1].mean())


def _check_unit(owner: str, name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"The {name!r} parameter of {owner} must be in [0, 1]. "
                         f"Got {value!r} instead.")


class ConfidenceThreshold(BaseEstimator):  # type: ignore[misc]
    """Thresholds on the top probability, fitted on held-out predictions for a precision.

    ``fit(proba, y)``: ``proba`` is (n, k) held-out probabilities, ``y`` the index of the true
    column (or labels with ``classes`` given; a label outside ``classes`` counts as a wrong
    answer, since the model can never give it). With ``per_class=True`` each predicted class
    with at least ``min_support`` held-out predictions gets its own threshold; the others use
    the global one. ``z`` > 0 makes the choice conservative (see ``coverage_at_precision``).

    ``min_coverage`` makes the target a default rather than a demand: when meeting
    ``precision`` would answer less than that share of the held-out rows, the target is
    relaxed to the precision the model reaches at that coverage (``precision_target_``), so a
    new model answers most tickets instead of abstaining on most. 0 keeps the target strict.
    With no held-out rows at all, every prediction is answered (``coverage_`` is nan).
    """

    def __init__(self, precision: float = 0.95, *, per_class: bool = False,
                 min_support: int = 30, z: float = 0.0, min_coverage: float = 0.0) -> None:
        self.precision = precision
        self.per_class = per_class
        self.min_support = min_support
        self.z = z
        self.min_coverage = min_coverage

    def fit(self, proba: npt.ArrayLike, y: npt.ArrayLike,
            classes: Labels | None = None) -> ConfidenceThreshold:
        """Choose thresholds; record the coverage and precision they reach on this data."""
        _check_unit(type(self).__name__, "precision", self.precision)
        _check_unit(type(self).__name__, "min_coverage", self.min_coverage)
        p = np.asarray(proba, dtype=np.float64)
        truth = _as_index(y, classes, unknown=-1)
        pred, conf = p.argmax(axis=1), p.max(axis=1)
        correct = pred == truth
        self.precision_target_ = self._target(conf, correct)
        _, self.threshold_ = coverage_at_precision(conf, correct, self.precision_target_, self.z)
        if conf.size == 0:
            self.threshold_ = 0.0
        self.class_thresholds_ = np.full(p.shape[1], self.threshold_, dtype=np.float64)
        if self.per_class:
            for col in range(p.shape[1]):
                rows = pred == col
                if rows.sum() >= self.min_support:
                    _, t = coverage_at_precision(conf[rows], correct[rows],
                                                 self.precision_target_, self.z)
                    self.class_thresholds_[col] = t
        kept = ~self.abstain(p)
        self.coverage_ = float(kept.mean()) if kept.size else float("nan")
        self.precision_ = float(correct[kept].mean()) if kept.any() else float("nan")
        self.n_features_in_ = p.shape[1]
        return self

    def _target(self, conf: FloatArray, correct: BoolArray) -> float:
        """``precision``, relaxed where it would answer under ``min_coverage`` of the rows."""
        coverage, _ = coverage_at_precision(conf, correct, self.precision, self.z)
        if conf.size == 0 or coverage >= self.min_coverage:
            return float(self.precision)
        reachable = precision_at_coverage(conf, correct, self.min_coverage)
        return min(float(self.precision), float(np.nextafter(reachable, 0.0)))

    def abstain(self, proba: npt.ArrayLike) -> BoolArray:
        """True where the top probability is under its class's threshold."""
        check_is_fitted(self, "class_thresholds_")
        p = np.asarray(proba, dtype=np.float64)
        pred = p.argmax(axis=1)
        return np.asarray(p.max(axis=1) < self.class_thresholds_[pred], dtype=bool)


def _as_index(y: npt.ArrayLike, classes: Labels | None,
              unknown: int | None = None) -> npt.NDArray[np.intp]:
    """Column index of each label; a label outside ``classes`` raises, or maps to ``unknown``
    when given (an index no prediction can equal, so it counts as wrong)."""
    if classes is None:
        return np.asarray(y, dtype=np.intp)
    lookup = {c: i for i, c in enumerate(classes)}
    values = np.asarray(y).tolist()
    missing = {v for v in values if v not in lookup}
    if missing and unknown is None:
        raise ValueError(f"Labels {sorted(map(str, missing))[:5]} are not in 'classes'; "
                         "pass the classifier's classes_.")
    return np.array([lookup.get(v, unknown) for v in values], dtype=np.intp)


class OutOfScopeDetector(BaseEstimator):  # type: ignore[misc]
    """Flags inputs whose embedding is far from every training example.

    Score = mean cosine similarity to the ``k`` nearest training embeddings (leave-one-out
    during ``fit``). The threshold is the ``quantile`` of training scores: by construction
    about that share of in-scope inputs would be flagged. X are L2-normalised embeddings.
    Follows scikit-learn's outlier convention: ``predict`` gives 1 in scope, -1 out.
    """

    def __init__(self, k: int = 3, quantile: float = 0.01, *, chunk_size: int = 2048) -> None:
        self.k = k
        self.quantile = quantile
        self.chunk_size = chunk_size

    def fit(self, X: npt.ArrayLike, y: Any = None) -> OutOfScopeDetector:
        """Keep the training embeddings and set the threshold from leave-one-out scores."""
        _check_unit(type(self).__name__, "quantile", self.quantile)
        if self.k < 1:
            raise ValueError(f"The 'k' parameter of OutOfScopeDetector must be >= 1. "
                             f"Got {self.k!r} instead.")
        self.reference_ = np.ascontiguousarray(X, dtype=np.float32)
        train_scores = self._scores(self.reference_, leave_one_out=True)
        self.threshold_ = float(np.quantile(train_scores, self.quantile))
        self.n_features_in_ = self.reference_.shape[1]
        return self

    def _scores(self, X: npt.NDArray[np.float32], leave_one_out: bool = False) -> FloatArray:
        k = min(self.k, len(self.reference_) - int(leave_one_out))
        out = np.empty(len(X), dtype=np.float64)
        for start in range(0, len(X), self.chunk_size):
            sims = X[start : start + self.chunk_size] @ self.reference_.T
            if leave_one_out:
                rows = np.arange(sims.shape[0])
                sims[rows, start + rows] = -np.inf
            top = np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:]
            out[start : start + len(sims)] = top.mean(axis=1)
        return out

    def score_samples(self, X: npt.ArrayLike) -> FloatArray:
        """Higher is more in scope (mean cosine to the k nearest training rows)."""
        check_is_fitted(self, "threshold_")
        return self._scores(np.ascontiguousarray(X, dtype=np.float32))

    def decision_function(self, X: npt.ArrayLike) -> FloatArray:
        """Score minus threshold: negative means out of scope."""
        return self.score_samples(X) - self.threshold_

    def is_out_of_scope(self, X: npt.ArrayLike) -> BoolArray:
        """True where the input is unlike the training data."""
        return np.asarray(self.decision_function(X) < 0, dtype=bool)

    def predict(self, X: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """1 in scope, -1 out of scope (scikit-learn's outlier convention)."""
        return np.where(self.is_out_of_scope(X), -1, 1).astype(np.int64)


def prediction_records(
    ids: Sequence[Any],
    proba: npt.ArrayLike,
    classes: Labels,
    *,
    thresholds: ConfidenceThreshold | None = None,
    out_of_scope: npt.ArrayLike | None = None,
    top_k: int = 3,
) -> list[dict[str, Any]]:
    """The record contract: ``{id, label|None, confidence, top, abstained}`` per row.

    ``label`` is None when the row abstains (low confidence or out of scope); ``confidence``
    and ``top`` are still given so an agent sees what the model would have said.
    """
    p = np.asarray(proba, dtype=np.float64)
    if len(ids) != len(p):
        raise ValueError(f"Got {len(ids)} ids for {len(p)} rows of probabilities; "
                         "pass one id per row.")
    abstain = np.zeros(len(p), dtype=bool)
    if thresholds is not None:
        abstain |= thresholds.abstain(p)
    if out_of_scope is not None:
        abstain |= np.asarray(out_of_scope, dtype=bool)
    top = np.argsort(-p, axis=1, kind="stable")[:, :top_k]
    records = []
    for row, row_id in enumerate(ids):
        best = int(top[row, 0])
        records.append({
            "id": row_id,
            "label": None if abstain[row] else _plain(classes[best]),
            "confidence": float(p[row, best]),
            "top": [[_plain(classes[int(c)]), float(p[row, c])] for c in top[row]],
            "abstained": bool(abstain[row]),
        })
    return records


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars, so records serialise as JSON."""
    return value.item() if isinstance(value, np.generic) else value


def triage_metrics(y_true: Labels, proba: npt.ArrayLike,
                   classes: Labels) -> dict[str, float]:
    """Accuracy, macro-F1 and coverage at each precision target on labelled predictions."""
    p = np.asarray(proba, dtype=np.float64)
    truth = _as_index(np.asarray(y_true), classes)
    pred = p.argmax(axis=1)
    correct = pred == truth
    metrics = {
        "accuracy": float(correct.mean()),
        "macro_f1": float(f1_score(truth, pred, average="macro", zero_division=0)),
    }
    for target in PRECISION_TARGETS:
        coverage, _ = coverage_at_precision(p.max(axis=1), correct, target)
        metrics[f"coverage_at_p{round(target * 100)}"] = coverage
    return metrics
