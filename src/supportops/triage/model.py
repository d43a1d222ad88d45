"""A triage model: one classifier plus the two ways it says "a human should look".

``TriageModel`` follows the scikit-learn estimator contract. It fits its classifier (text or
structured fields) on most of the training rows, then chooses a confidence threshold for a
precision target on the held-out rest, and, for text, fits an out-of-scope detector on the
training embeddings. ``predict_records`` gives the record contract of ``predict triage``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted

from supportops.ml.embeddings import Encoder
from supportops.ml.estimators import FieldClassifier, TextClassifier
from supportops.triage.abstention import ConfidenceThreshold, OutOfScopeDetector, prediction_records

#: Structured fields that are never features: they are the labels or are set later.
LEAKY = frozenset({"group", "assignee", "status", "resolved_by", "closed_code", "resolved_at",
                   "closed_at", "sys_updated_by", "sys_updated_at", "sys_mod_count",
                   "reassignment_count", "reopen_count", "made_sla", "active", "problem_id",
                   "rfc", "vendor", "caused_by", "knowledge", "u_priority_confirmation",
                   "sys_created_at", "sys_created_by", "opened_by", "notify", "activity"})


#: The value of a field that a row does not have (one category of its own for the trees).
MISSING = "<missing>"


#: XGBoost grows one tree per class per boosting round, so with many classes (assignment
#: groups: ~70 on the incident log) the rounds shrink to keep about this many trees per fit,
#: never below ``_MIN_ROUNDS``, with a larger learning rate to match. On the incident log
#: (64 groups, 18k tickets, 2 cores) 30 rounds at 0.3 fit in about a minute and a half
#: where 200 rounds at 0.1 took over fifteen minutes.
_TREE_BUDGET = 2000
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
        per_class: bool = False,
        oos_quantile: float = 0.02,
        validation_fraction: float = 0.15,
        random_state: int = 0,
    ) -> None:
        self.kind = kind
        self.encoder = encoder
        self.target = target
        self.precision = precision
        self.per_class = per_class
        self.oos_quantile = oos_quantile
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def _inputs(self, rows: Sequence[dict[str, Any]]) -> Any:
        if self.kind == "text":
            return [str(r.get("text") or "") for r in rows]
        return field_frame(rows, getattr(self, "columns_", None))

    def fit(self, rows: Sequence[dict[str, Any]], y: Sequence[Any]) -> TriageModel:
        if self.kind not in ("text", "fields"):
            raise ValueError(f"The 'kind' parameter of TriageModel must be 'text' or 'fields'. "
                             f"Got {self.kind!r} instead.")
        labels = np.asarray([str(v) for v in y], dtype=object)
        index = np.arange(len(rows))
        counts = {lab: int((labels == lab).sum()) for lab in set(labels)}
        stratify = labels if min(counts.values()) >= 2 else None
        fit_idx, val_idx = train_test_split(index, test_size=self.validation_fraction,
                                            random_state=self.random_state, stratify=stratify)
        fit_rows = [rows[i] for i in fit_idx]
        if self.kind == "fields":
            frame = field_frame(rows)
            self.columns_: list[str] | None = [c for c in frame.columns
                                               if c not in LEAKY and c != self.target]
            self.classifier_ = FieldClassifier(self.columns_, random_state=self.random_state,
                                               **booster_params(len(set(labels[fit_idx]))))
        else:
            self.columns_ = None
            self.classifier_ = TextClassifier(self.encoder, random_state=self.random_state)
        fit_subjects = [r.get("subject") for r in fit_rows]
        if isinstance(self.classifier_, TextClassifier):  # n-grams of < k subjects: dropped
            self.classifier_.fit(self._inputs(fit_rows), labels[fit_idx], subjects=fit_subjects)
        else:
            self.classifier_.fit(self._inputs(fit_rows), labels[fit_idx])
        self.classes_ = self.classifier_.classes_
        held = self.classifier_.predict_proba(self._inputs([rows[i] for i in val_idx]))
        self.threshold_ = ConfidenceThreshold(self.precision, per_class=self.per_class).fit(
            held, labels[val_idx], classes=list(self.classes_))
        self.oos_ = None
        if self.kind == "text" and self.encoder is not None:
            self.oos_ = OutOfScopeDetector(quantile=self.oos_quantile).fit(
                self.encoder.encode(self._inputs(fit_rows)), labels[fit_idx], fit_subjects,
                X_held=self.encoder.encode(self._inputs([rows[i] for i in val_idx])),
                confidence_held=held.max(axis=1))
        return self

    def predict_proba(self, rows: Sequence[dict[str, Any]]) -> npt.NDArray[np.float64]:
        check_is_fitted(self, "classifier_")
        return np.asarray(self.classifier_.predict_proba(self._inputs(rows)), dtype=np.float64)

    def predict(self, rows: Sequence[dict[str, Any]]) -> npt.NDArray[Any]:
        return np.asarray(self.classes_[self.predict_proba(rows).argmax(axis=1)])

    def out_of_scope(self, rows: Sequence[dict[str, Any]]) -> npt.NDArray[np.bool_] | None:
        if self.oos_ is None or self.encoder is None:
            return None
        confidence = self.predict_proba(rows).max(axis=1)
        return np.asarray(self.oos_.is_out_of_scope(self.encoder.encode(self._inputs(rows)),
                                                    confidence))

    def predict_records(
        self, ids: Sequence[Any], rows: Sequence[dict[str, Any]], top_k: int = 3
    ) -> list[dict[str, Any]]:
        """``{id, label|None, confidence, top, abstained}`` per row."""
        proba = self.predict_proba(rows)
        return prediction_records(ids, proba, list(self.classes_), thresholds=self.threshold_,
                                  out_of_scope=self.out_of_scope(rows), top_k=top_k)
