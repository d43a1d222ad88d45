"""Windows of a replayed stream through one model: input drift on embeddings, label-mix
drift (reported separately), estimated accuracy from calibrated confidences, and actual
accuracy and abstention where the lines carry labels."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from supportops.monitor import stats
from supportops.monitor.reference import ABSTAINED


def predictions(model: Any, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Top label, confidence and abstention per row."""
    proba = model.predict_proba(rows)
    abstain = model.threshold_.abstain(proba)
    oos = model.out_of_scope(rows)
    if oos is not None:
        abstain = abstain | oos
    classes = list(model.classes_)
    return {"label": [str(classes[i]) for i in proba.argmax(axis=1)],
            "confidence": proba.max(axis=1), "abstained": np.asarray(abstain, dtype=bool)}


def window(reference: dict[str, Any], ref_vectors: npt.NDArray[np.float32],
           vectors: npt.NDArray[np.float32], pred: dict[str, Any], labels: Sequence[Any],
           limits: dict[str, float]) -> dict[str, Any]:
    """The figures of one window (``pred`` and ``labels`` already cut to it)."""
    n = len(labels)
    auc = stats.domain_auc(ref_vectors, vectors) if len(ref_vectors) and n else 0.5
    auc_needed = max(limits["drift_auc"],
                     0.5 + limits["drift_sigmas"] * stats.auc_noise(len(ref_vectors), n))
    mix = Counter(ABSTAINED if a else p for p, a in zip(pred["label"], pred["abstained"],
                                                       strict=True))
    ref_mix = reference.get("predictions") or {}
    label_js = stats.jensen_shannon(ref_mix, mix) if ref_mix and n else 0.0
    js_needed = max(limits["label_js"], stats.null_js_quantile(ref_mix, n)) if ref_mix and n \
        else limits["label_js"]
    given = [(p, str(t)) for p, t in zip(pred["label"], labels, strict=True) if t is not None]
    return {
        "n": n, "drift_score": round(auc, 4), "drift": bool(auc > auc_needed),
        "drift_threshold": round(auc_needed, 4),
        "estimated_accuracy": round(stats.estimated_accuracy(pred["confidence"],
                                                             reference.get("calibration")), 4),
        "accuracy": round(sum(p == t for p, t in given) / len(given), 4) if given else None,
        "abstention_rate": round(float(np.mean(pred["abstained"])), 4) if n else 0.0,
        "label_drift_score": round(label_js, 4), "label_drift": bool(label_js > js_needed),
    }


def cut(pred: dict[str, Any], start: int, end: int) -> dict[str, Any]:
    return {k: v[start:end] for k, v in pred.items()}
