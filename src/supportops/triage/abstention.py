"""Abstention: answer only when confident enough, and never about things never seen.

Two reasons to abstain, both learned from held-out data with the estimator contract:

- ``ConfidenceThreshold``: a probability threshold per task (optionally per predicted
  class) chosen as the *largest coverage whose precision reaches a target*, like
  ServiceNow's precision/coverage knob. Per-class thresholds keep the overall precision at
  or above the target, because every class-wise slice meets it.
- ``OutOfScopeDetector``: Mahalanobis distance to class centroids (shared covariance)
  combined with the classifier's confidence; a threshold at a low quantile of held-out
  in-scope scores flags inputs unlike any class. It keeps aggregates, never an example.

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

from supportops.errors import ValidationFailed
from supportops.ml.estimators import calibration_split, subject_ids

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]
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
    """Flags inputs far from every class, from aggregates only (no training example kept).

    A Gaussian model of the classes in embedding space: one centroid per class and one
    covariance shared by all (Ledoit-Wolf shrinkage), kept as a whitening matrix. The score is
    minus the smallest squared Mahalanobis distance to a centroid, standardised, plus
    ``confidence_weight`` times the classifier's standardised top probability: far from every
    class *or* torn between classes both say "not what this model was trained for".

    Models forget (issue 8): a class's centroid is kept only when its rows come from at least
    ``min_subjects`` distinct subjects (a row without a subject is its own; when no class has
    that many, one centroid pools all rows); the covariance pools the residuals of all rows.
    The threshold is the ``quantile`` of the scores of held-out in-scope rows of the tenant's
    own data (``X_held`` in ``fit``), or of an inner split of ``X`` when none are given:
    about that share of in-scope inputs is flagged.
    The defaults (weight 1, quantile 0.03) were chosen on the dev probes of ``bench/oos.py``
    (Banking77 intents left out of training, Bitext, StackFAQ): the highest out-of-scope
    recall that costs in-scope accuracy at most 1.5 points (1.3 on dev; 0.02 was chosen
    before the encoder ran each text on its own); max-softmax alone is far behind.
    Follows scikit-learn's outlier convention: ``predict`` gives 1 in scope, -1 out.
    """

    def __init__(self, quantile: float = 0.03, *, confidence_weight: float = 1.0,
                 min_subjects: int = 3, calibration_fraction: float = 0.2,
                 random_state: int = 0) -> None:
        self.quantile = quantile
        self.confidence_weight = confidence_weight
        self.min_subjects = min_subjects
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state

    def fit(self, X: npt.ArrayLike, y: Labels, subjects: Sequence[Any] | None = None, *,
            X_held: npt.ArrayLike | None = None,
            confidence_held: npt.ArrayLike | None = None) -> OutOfScopeDetector:
        """Centroids and covariance from embeddings ``X`` with labels ``y``; the threshold
        from held-out in-scope embeddings ``X_held`` (and the classifier's top probability
        on them, ``confidence_held``, needed when ``confidence_weight`` > 0)."""
        self._check_params(X_held, confidence_held)
        emb, labels = np.asarray(X, dtype=np.float64), np.asarray(y)
        subject = subject_ids(subjects, len(emb))
        if X_held is None:  # threshold from an inner split, then the model from all rows
            codes = np.unique(labels, return_inverse=True)[1].astype(np.intp)
            inner, held = calibration_split(codes, self.calibration_fraction, self.random_state)
            self._fit_gaussian(emb[inner], labels[inner], subject[inner])
            held_distance = self._distance(emb[held])
            self._fit_gaussian(emb, labels, subject)
        else:
            self._fit_gaussian(emb, labels, subject)
            held_distance = self._distance(np.asarray(X_held, dtype=np.float64))
        self._fit_threshold(held_distance, confidence_held)
        self.n_features_in_ = emb.shape[1]
        return self

    def _check_params(self, X_held: npt.ArrayLike | None,
                      confidence_held: npt.ArrayLike | None) -> None:
        owner = type(self).__name__
        _check_unit(owner, "quantile", self.quantile)
        if self.min_subjects < 1:
            raise ValueError(f"The 'min_subjects' parameter of {owner} must be >= 1. "
                             f"Got {self.min_subjects!r} instead.")
        if self.confidence_weight > 0 and (X_held is None or confidence_held is None):
            raise ValueError(f"{owner}(confidence_weight={self.confidence_weight}) needs "
                             "'X_held' and 'confidence_held' (the classifier's top "
                             "probabilities on held-out rows), or confidence_weight=0.")

    def _fit_gaussian(self, emb: FloatArray, labels: npt.NDArray[Any], subject: IntArray) -> None:
        """Centroids of classes with enough subjects, shared covariance, whitening matrix."""
        from sklearn.covariance import ledoit_wolf

        classes, codes = np.unique(labels, return_inverse=True)
        sums = np.zeros((len(classes), emb.shape[1]))
        np.add.at(sums, codes, emb)
        counts = np.bincount(codes, minlength=len(classes)).astype(np.float64)
        centroids = sums / counts[:, None]
        covariance, _ = ledoit_wolf(emb - centroids[codes])
        whiten = np.linalg.cholesky(np.linalg.inv(covariance))
        enough = np.array([len(set(subject[codes == c].tolist())) >= self.min_subjects
                           for c in range(len(classes))], dtype=bool)
        self.classes_ = classes[enough]
        self.whitening_ = whiten
        if enough.any():
            self.centroids_white_ = centroids[enough] @ whiten
            return
        if len(np.unique(subject)) < self.min_subjects:
            raise ValidationFailed(
                f"The training rows come from {len(np.unique(subject))} distinct subjects; a "
                f"model keeps only what at least {self.min_subjects} share. Train on tickets "
                "of more customers.")
        # no class is shared by k subjects: one pooled centroid, an aggregate of them all
        self.centroids_white_ = emb.mean(axis=0, keepdims=True) @ whiten

    def _distance(self, emb: FloatArray) -> FloatArray:
        """Smallest squared Mahalanobis distance to a kept centroid."""
        white = emb @ self.whitening_
        sq = ((white**2).sum(axis=1)[:, None] - 2 * white @ self.centroids_white_.T
              + (self.centroids_white_**2).sum(axis=1)[None, :])
        return np.asarray(sq.min(axis=1), dtype=np.float64)

    def _fit_threshold(self, distance: FloatArray,
                       confidence: npt.ArrayLike | None) -> None:
        self.distance_scale_ = (float(distance.mean()), float(distance.std()) or 1.0)
        conf = None if confidence is None else np.asarray(confidence, dtype=np.float64)
        self.confidence_scale_ = (0.0, 1.0) if conf is None else \
            (float(conf.mean()), float(conf.std()) or 1.0)
        self.threshold_ = float(np.quantile(self._combine(distance, conf), self.quantile))

    def _combine(self, distance: FloatArray, confidence: FloatArray | None) -> FloatArray:
        score = -(distance - self.distance_scale_[0]) / self.distance_scale_[1]
        if self.confidence_weight > 0 and confidence is not None:
            mean, std = self.confidence_scale_
            score = score + self.confidence_weight * (confidence - mean) / std
        return np.asarray(score, dtype=np.float64)

    def score_samples(self, X: npt.ArrayLike,
                      confidence: npt.ArrayLike | None = None) -> FloatArray:
        """Higher is more in scope. ``confidence``: the classifier's top probability per row
        (ignored when ``confidence_weight`` is 0)."""
        check_is_fitted(self, "threshold_")
        if self.confidence_weight > 0 and confidence is None:
            raise ValueError("This OutOfScopeDetector combines distance with confidence; "
                             "pass the classifier's top probability per row as 'confidence'.")
        conf = None if confidence is None else np.asarray(confidence, dtype=np.float64)
        return self._combine(self._distance(np.asarray(X, dtype=np.float64)), conf)

    def decision_function(self, X: npt.ArrayLike,
                          confidence: npt.ArrayLike | None = None) -> FloatArray:
        """Score minus threshold: negative means out of scope."""
        return self.score_samples(X, confidence) - self.threshold_

    def is_out_of_scope(self, X: npt.ArrayLike,
                        confidence: npt.ArrayLike | None = None) -> BoolArray:
        """True where the input is unlike the training data."""
        return np.asarray(self.decision_function(X, confidence) < 0, dtype=bool)

    def predict(self, X: npt.ArrayLike,
                confidence: npt.ArrayLike | None = None) -> npt.NDArray[np.int64]:
        """1 in scope, -1 out of scope (scikit-learn's outlier convention)."""
        return np.where(self.is_out_of_scope(X, confidence), -1, 1).astype(np.int64)


def prediction_records(
    ids: Sequence[Any],
    proba: npt.ArrayLike,
    classes: Labels,
    *,
    thresholds: ConfidenceThreshold | None = None,
    out_of_scope: npt.ArrayLike | None = None,
    top_k: int = 3,
) -> list[dict[str, Any]]:
    """The record contract: ``{id, label|None, confidence, top, abstained}`` per row, and
    ``reason`` (``low_confidence`` or ``out_of_scope``) when it abstains.

    ``label`` is None when the row abstains; ``confidence`` and ``top`` are still given so an
    agent sees what the model would have said.
    """
    p = np.asarray(proba, dtype=np.float64)
    if len(ids) != len(p):
        raise ValueError(f"Got {len(ids)} ids for {len(p)} rows of probabilities; "
                         "pass one id per row.")
    unsure = np.zeros(len(p), dtype=bool) if thresholds is None else thresholds.abstain(p)
    outside = (np.zeros(len(p), dtype=bool) if out_of_scope is None
               else np.asarray(out_of_scope, dtype=bool))
    top = np.argsort(-p, axis=1, kind="stable")[:, :top_k]
    records = []
    for row, row_id in enumerate(ids):
        best = int(top[row, 0])
        abstained = bool(unsure[row] or outside[row])
        records.append({
            "id": row_id,
            "label": None if abstained else _plain(classes[best]),
            "confidence": float(p[row, best]),
            "top": [[_plain(classes[int(c)]), float(p[row, c])] for c in top[row]],
            "abstained": abstained,
        })
        if abstained:
            records[-1]["reason"] = "out_of_scope" if outside[row] else "low_confidence"
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
