"""A triage model: one classifier plus the two ways it says "a human should look".

``TriageModel`` follows the scikit-learn estimator contract. It fits its classifier (text or
structured fields) on most of the training rows, then chooses a confidence threshold for a
precision target on the held-out rest (the most recent rows when the tickets carry real
opening times: the threshold must hold on the tickets that come next, not on a random
sample of the past), and, for text, fits an out-of-scope detector on the training
embeddings. Classes too rare to hold any row out stay whole in the fitting part.
With ``refit`` (the default) the classifier is then fitted again on every row, validation
rows included: the newest tickets teach the served model too, and its probabilities stay
calibrated (each fit calibrates itself), so the threshold keeps its meaning.
``predict_records`` gives the record contract of ``predict triage``.

Text models choose their setting per data set (``select``): each of
:data:`TEXT_CANDIDATES` that can change anything on these texts is fitted on the fitting
part and scored on the validation part, and the most accurate one is kept (the defaults win
ties). Only the tenant's own training rows take part, so the choice is honest, and a data
set of short one-line texts (Banking77) has one candidate only: it trains as before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from sklearn import config_context
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from supportops.ml.embeddings import Encoder
from supportops.ml.estimators import (
    FieldClassifier,
    TextClassifier,
    encode_by_kind,
    first_line,
)
from supportops.triage.abstention import (
    ConfidenceThreshold,
    OutOfScopeDetector,
    coverage_at_precision,
    prediction_records,
)

#: Structured fields that are never features: they are the labels or are set later.
LEAKY = frozenset({"group", "assignee", "status", "resolved_by", "closed_code", "resolved_at",
                   "closed_at", "sys_updated_by", "sys_updated_at", "sys_mod_count",
                   "reassignment_count", "reopen_count", "made_sla", "active", "problem_id",
                   "rfc", "vendor", "caused_by", "knowledge", "u_priority_confirmation",
                   "sys_created_at", "sys_created_by", "opened_by", "notify", "activity"})


#: The value of a field that a row does not have (one category of its own for the trees).
MISSING = "<missing>"

#: A class with fewer labelled tickets than this is too rare to evaluate: all of its rows
#: train the model, none is held out to validate or test it.
MIN_EVAL_TICKETS = 3

#: Rows whose opening times span more than this many seconds are split by time.
TIME_SPREAD_S = 86400.0


#: XGBoost grows one tree per class per boosting round, so with many classes (assignment
#: groups: ~70 on the incident log) the rounds shrink to keep about this many trees per fit,
#: never below ``_MIN_ROUNDS``, with a larger learning rate to match. On the incident log
#: (64 groups, 18k tickets, 2 cores) 30 rounds at 0.3 fit in about a minute and a half
#: where 200 rounds at 0.1 took over fifteen minutes.
_TREE_BUDGET = 2000

#: Text settings a text model chooses from on its validation part (``TextClassifier``
#: options; the first is the defaults). A subject line weighed as a block of its own, and
#: n-grams from the head of long bodies only: both help where tickets carry a title and a
#: long body full of pasted logs (GitHub issues, e-mails), and change nothing elsewhere.
#: On a dev part of the NLBSE'24 issues the title's embedding beside the body's, at equal
#: weight, helped most (bench/nlbse.py); its n-grams as a block helped on help-desk e-mails.
TEXT_CANDIDATES: tuple[dict[str, Any], ...] = (
    {},
    {"title_weight": 0.5},
    {"max_chars": 1000},
    {"max_chars": 1000, "embedding_weight": 1.0, "title_embedding_weight": 1.0},
)
#: Options that only mean something with a sentence encoder.
_ENCODER_OPTIONS = frozenset({"embedding_weight", "title_embedding_weight"})

#: A title candidate applies when at least this share of texts has a subject line, a
#: ``max_chars`` one when at least this share of texts is longer than ``max_chars``.
_APPLIES_SHARE = 0.1
_MIN_ROUNDS = 30


def booster_params(n_classes: int) -> dict[str, Any]:
    """``FieldClassifier`` parameters for ``n_classes`` (its defaults up to 10 classes)."""
    rounds = max(_MIN_ROUNDS, _TREE_BUDGET // max(n_classes, 1))
    if rounds >= 200:
        return {}
    return {"n_estimators": rounds, "learning_rate": 0.3 if rounds < 100 else 0.15}


def row_fields(row: dict[str, Any]) -> dict[str, Any]:
    """Open-time fields of a snapshot row (or a predict input line).

    Only a row without ``open_fields`` at all (a bare dict of fields) falls back to its own
    ``channel`` / ``category`` / ``priority``: in a snapshot row those columns are the
    ticket's final state, known only later, so they never stand in for a missing open value.
    """
    raw = row.get("open_fields")
    if raw is None:
        return {k: row[k] for k in ("channel", "category", "priority") if row.get(k) is not None}
    return dict(orjson.loads(raw)) if isinstance(raw, str) else dict(raw)


def rare_labels(labels: Sequence[Any], minimum: int = MIN_EVAL_TICKETS) -> set[str]:
    """Labels with fewer than ``minimum`` rows: kept in training, never held out."""
    counts = Counter(str(v) for v in labels)
    return {lab for lab, n in counts.items() if n < minimum}


def opening_times(rows: Sequence[dict[str, Any]]) -> list[Any] | None:
    """The rows' opening times when every row has one and they span more than a day (real
    times, not an import stamp), else None."""
    found = [r.get("opened_at") for r in rows]
    times = [t for t in found if t is not None]
    if not times or len(times) < len(found):
        return None
    spread = (max(times) - min(times)).total_seconds()
    return times if spread > TIME_SPREAD_S else None


def holdout_split(rows: Sequence[dict[str, Any]], labels: Sequence[Any], fraction: float,
                  seed: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], str]:
    """Indices (kept, held out) and the kind of split: the most recent ``fraction`` of rows
    when they carry real opening times ("time"), else ``fraction`` of each class drawn with
    ``seed`` ("stratified"). Rows of rare classes (:func:`rare_labels`) are always kept."""
    names = [str(v) for v in labels]
    rare = rare_labels(names)
    times = opening_times(rows)
    candidates = [i for i, lab in enumerate(names) if lab not in rare]
    if times is not None:
        ordered = sorted(candidates, key=lambda i: (times[i], str(rows[i].get("ticket_id"))))
        n_held = min(round(len(rows) * fraction), max(len(ordered) - 1, 0))
        held = ordered[len(ordered) - n_held:] if n_held else []
        kind = "time"
    else:
        held = _stratified(candidates, names, fraction, seed)
        kind = "stratified"
    mask = np.zeros(len(rows), dtype=bool)
    mask[np.asarray(held, dtype=np.intp)] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask), kind


def _stratified(candidates: list[int], names: list[str], fraction: float,
                seed: int) -> list[int]:
    """``fraction`` of each class's rows (at least one, never all), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[int]] = {}
    for i in candidates:
        by_class.setdefault(names[i], []).append(i)
    held: list[int] = []
    for lab in sorted(by_class):
        members = rng.permutation(by_class[lab])
        n = min(max(1, round(len(members) * fraction)), len(members) - 1)
        held.extend(int(i) for i in members[:n])
    return held


def validation_summary(proba: npt.NDArray[np.float64], truth: npt.NDArray[Any],
                       classes: npt.NDArray[Any]) -> dict[str, float]:
    """Accuracy, top-3 and coverage at precision .80/.90/.95 on the validation part, kept
    before any refit: what the threshold was chosen on (labels unseen count as wrong)."""
    if not len(truth):
        return {}
    order = np.argsort(-proba, axis=1)[:, :3]
    right = classes[order[:, 0]] == truth
    out = {"rows": float(len(truth)), "accuracy": float(right.mean()),
           "top3_accuracy": float(np.mean([t in set(classes[o]) for o, t in zip(order, truth,
                                                                              strict=True)]))}
    for p in (0.80, 0.90, 0.95):
        out[f"coverage_at_p{round(p * 100)}"] = coverage_at_precision(proba.max(axis=1), right,
                                                                     p)[0]
    return out


def applicable(candidate: dict[str, Any], texts: Sequence[str]) -> bool:
    """Whether a text setting can change anything on these texts (see ``TEXT_CANDIDATES``)."""
    need = _APPLIES_SHARE * len(texts)
    titled = candidate.get("title_weight") or candidate.get("title_embedding_weight")
    if titled and sum(bool(first_line(t)) for t in texts) < need:
        return False
    limit = candidate.get("max_chars")
    return not (limit and sum(len(t) > limit for t in texts) < need)


def setting_name(candidate: dict[str, Any]) -> str:
    """``title_weight=1.0,max_chars=1000``; ``defaults`` for the empty setting."""
    return ",".join(f"{k}={v}" for k, v in candidate.items()) or "defaults"


def field_frame(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> Any:
    """Open-time fields as a frame of strings, one column per field (sorted when not given);
    absent and null values are :data:`MISSING`, so every cell is a plain ``str``."""
    import pandas as pd

    records = [{k: str(v) for k, v in row_fields(r).items() if v is not None} for r in rows]
    if columns is None:
        columns = sorted({k for record in records for k in record})
    return pd.DataFrame({c: pd.Series([rec.get(c, MISSING) for rec in records], dtype=object)
                         for c in columns}, columns=list(columns))


class TriageModel(BaseEstimator):  # type: ignore[misc]
    """Classifier + confidence thresholds + out-of-scope detection, for one triage task."""

    def __init__(
        self,
        kind: str = "text",
        encoder: Encoder | None = None,
        *,
        target: str = "category",
        precision: float = 0.95,
        min_coverage: float = 0.0,
        per_class: bool = False,
        oos_quantile: float = 0.03,
        validation_fraction: float = 0.15,
        refit: bool = True,
        select: bool = True,
        random_state: int = 0,
    ) -> None:
        self.kind = kind
        self.encoder = encoder
        self.target = target
        self.precision = precision
        self.min_coverage = min_coverage
        self.per_class = per_class
        self.oos_quantile = oos_quantile
        self.validation_fraction = validation_fraction
        self.refit = refit
        self.select = select
        self.random_state = random_state

    def _inputs(self, rows: Sequence[dict[str, Any]]) -> Any:
        if self.kind == "text":
            return [str(r.get("text") or "") for r in rows]
        return field_frame(rows, getattr(self, "columns_", None))

    def fit(self, rows: Sequence[dict[str, Any]], y: Sequence[Any]) -> TriageModel:
        """Fit on one BLAS thread: a threaded BLAS may sum in another order on a machine with
        more cores, and the learned state must follow the data and the settings only."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(rows, y)

    def _fit(self, rows: Sequence[dict[str, Any]], y: Sequence[Any]) -> TriageModel:
        if self.kind not in ("text", "fields"):
            raise ValueError(f"The 'kind' parameter of TriageModel must be 'text' or 'fields'. "
                             f"Got {self.kind!r} instead.")
        labels = np.asarray([str(v) for v in y], dtype=object)
        fit_idx, val_idx, self.validation_split_ = holdout_split(
            rows, labels.tolist(), self.validation_fraction, self.random_state)
        self.rare_classes_ = sorted(rare_labels(labels.tolist()))
        fit_rows = [rows[i] for i in fit_idx]
        self.classifier_ = self._new_classifier(rows, len(set(labels[fit_idx])))
        fit_subjects = [r.get("subject") for r in fit_rows]
        val_rows = [rows[i] for i in val_idx]
        held = self._fit_chosen(fit_rows, labels[fit_idx], fit_subjects, val_rows,
                                labels[val_idx])
        self.classes_: npt.NDArray[Any] = self.classifier_.classes_
        self.threshold_ = ConfidenceThreshold(
            self.precision, per_class=self.per_class, min_coverage=self.min_coverage,
        ).fit(held, labels[val_idx], classes=list(self.classes_))
        self.validation_ = validation_summary(held, labels[val_idx], self.classes_)
        self.oos_ = None
        if self.kind == "text" and self.encoder is not None:  # its threshold from held-out rows
            self.oos_ = OutOfScopeDetector(quantile=self.oos_quantile).fit(
                encode_by_kind(self.encoder, self._inputs(fit_rows)), labels[fit_idx],
                fit_subjects, X_held=encode_by_kind(self.encoder, self._inputs(val_rows)),
                confidence_held=held.max(axis=1))
        if self.refit and len(val_idx):
            self._fit_classifier(list(rows), labels, [r.get("subject") for r in rows])
            self.classes_ = self.classifier_.classes_
        return self

    def _fit_chosen(self, fit_rows: list[dict[str, Any]], fit_labels: Any,
                    fit_subjects: list[Any], val_rows: list[dict[str, Any]],
                    val_labels: Any) -> npt.NDArray[np.float64]:
        """Fit the classifier (each applicable text setting in turn, when selecting, keeping
        the most accurate on the validation rows: the defaults win ties) and return its
        probabilities on the validation rows."""
        template = self.classifier_
        self.selection_: dict[str, float] = {}
        best: tuple[float, str, Any, npt.NDArray[np.float64]] | None = None
        for setting in self._settings(fit_rows) if val_rows else [{}]:
            self.classifier_ = clone(template).set_params(**setting) if setting else template
            self._fit_classifier(fit_rows, fit_labels, fit_subjects)
            classes = self.classifier_.classes_
            held = (self.classifier_.predict_proba(self._inputs(val_rows)) if val_rows
                    else np.zeros((0, len(classes))))
            score = float(np.mean(classes[held.argmax(axis=1)] == val_labels)) if val_rows else 0.0
            self.selection_[setting_name(setting)] = round(score, 4)
            if best is None or score > best[0]:
                best = (score, setting_name(setting), self.classifier_, held)
        assert best is not None
        _, self.text_setting_, self.classifier_, held = best
        return held

    def _settings(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The text settings worth trying on these rows (only the defaults otherwise)."""
        if self.kind != "text" or not self.select:
            return [{}]
        texts = self._inputs(rows)
        out: list[dict[str, Any]] = []
        for candidate in TEXT_CANDIDATES:
            setting = {k: v for k, v in candidate.items()
                       if self.encoder is not None or k not in _ENCODER_OPTIONS}
            if setting not in out and (not setting or applicable(setting, texts)):
                out.append(setting)
        return out

    def _fit_classifier(self, rows: Sequence[dict[str, Any]], labels: Any,
                        subjects: list[Any]) -> None:
        """Text models drop n-grams of fewer than k subjects, so they need the subjects."""
        if isinstance(self.classifier_, TextClassifier):
            self.classifier_.fit(self._inputs(rows), labels, subjects=subjects)
        else:
            self.classifier_.fit(self._inputs(rows), labels)

    def _new_classifier(self, rows: Sequence[dict[str, Any]], n_classes: int) -> Any:
        """The classifier of this kind; field models learn which open-time columns exist."""
        if self.kind == "fields":
            frame = field_frame(rows)
            self.columns_: list[str] | None = [c for c in frame.columns
                                               if c not in LEAKY and c != self.target]
            return FieldClassifier(self.columns_, random_state=self.random_state,
                                   **booster_params(n_classes))
        self.columns_ = None
        return TextClassifier(self.encoder, random_state=self.random_state)

    def predict_proba(self, rows: Sequence[dict[str, Any]]) -> npt.NDArray[np.float64]:
        check_is_fitted(self, "classifier_")
        return np.asarray(self.classifier_.predict_proba(self._inputs(rows)), dtype=np.float64)

    def predict(self, rows: Sequence[dict[str, Any]]) -> npt.NDArray[Any]:
        return np.asarray(self.classes_[self.predict_proba(rows).argmax(axis=1)])

    def out_of_scope(self, rows: Sequence[dict[str, Any]],
                     proba: npt.NDArray[np.float64] | None = None
                     ) -> npt.NDArray[np.bool_] | None:
        """Rows the out-of-scope detector rejects; ``proba`` spares computing the features
        (n-grams, embeddings) a second time when the caller already holds them."""
        if self.oos_ is None or self.encoder is None:
            return None
        confidence = (self.predict_proba(rows) if proba is None else proba).max(axis=1)
        return np.asarray(self.oos_.is_out_of_scope(
            encode_by_kind(self.encoder, self._inputs(rows)), confidence))

    def predict_records(
        self, ids: Sequence[Any], rows: Sequence[dict[str, Any]], top_k: int = 3
    ) -> list[dict[str, Any]]:
        """``{id, label|None, confidence, top, abstained}`` per row. Serving's path: the
        matrices are ours (n-grams, embeddings; finite by construction), so scikit-learn's
        per-call input checks are skipped: 1.1 of the 6.3 ms one ticket costs past the
        encoder."""
        with config_context(assume_finite=True, skip_parameter_validation=True):
            proba = self.predict_proba(rows)
            out_of_scope = self.out_of_scope(rows, proba)
        return prediction_records(ids, proba, list(self.classes_), thresholds=self.threshold_,
                                  out_of_scope=out_of_scope, top_k=top_k)
