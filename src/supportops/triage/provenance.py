"""What a training run records beyond its snapshot and its estimator: the PII detector that
made the texts' tokens, how the rows were split, and the facts of the model card.

Why the detector: the snapshot's texts are what the detector left of the tickets at
ingestion, so a different detector (another spaCy model, another threshold) means other
texts and another model. Its digest covers the spaCy model's installed files (each one's
hash, from the package's RECORD), the versions of the libraries around it and the score
threshold; the detector's own code is covered by the run's code version.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, distribution
from typing import Any

import numpy as np
import orjson

from supportops.triage.model import TriageModel

#: Libraries of the detector besides its spaCy model.
_DETECTOR_LIBRARIES = ("presidio-analyzer", "spacy", "phonenumbers")


def provenance(pseudonymised: bool, **extra: Any) -> dict[str, Any]:
    """The detector (None: the tenant's texts are not pseudonymised) and ``extra`` facts."""
    return {"detector": detector_fingerprint() if pseudonymised else None, **extra}


@functools.cache
def detector_fingerprint() -> dict[str, Any]:
    """``{"model", "threshold", "versions", "digest"}`` of the default PII detector."""
    from supportops.privacy.detection import DEFAULT_MODEL, DEFAULT_THRESHOLD

    versions = {name: _version(name) for name in (DEFAULT_MODEL, *_DETECTOR_LIBRARIES)}
    h = hashlib.sha256(orjson.dumps({"threshold": DEFAULT_THRESHOLD, "versions": versions},
                                    option=orjson.OPT_SORT_KEYS))
    h.update(_installed_files(DEFAULT_MODEL).encode())
    return {"model": DEFAULT_MODEL, "threshold": DEFAULT_THRESHOLD, "versions": versions,
            "digest": h.hexdigest()}


def _version(name: str) -> str | None:
    try:
        return distribution(name).version
    except PackageNotFoundError:
        return None


def _installed_files(name: str) -> str:
    """The package's RECORD: every installed file with its hash ("" when not installed)."""
    try:
        return distribution(name).read_text("RECORD") or ""
    except PackageNotFoundError:
        return ""


def card_facts(model: TriageModel, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per class of the held-out ``rows``: precision, recall and F1 of the top answer, how
    many tickets (``support``) and what share the model answers (``answered``: neither
    under its threshold nor out of scope). Kept with the run for the model card."""
    if not rows:
        return {"by_class": {}}
    from sklearn.metrics import precision_recall_fscore_support

    truth = np.asarray([str(r[model.target]) for r in rows], dtype=object)
    proba = model.predict_proba(rows)
    pred = np.asarray([str(c) for c in model.classes_], dtype=object)[proba.argmax(axis=1)]
    abstain = model.threshold_.abstain(proba)
    oos = model.out_of_scope(rows, proba)
    answered = ~(abstain | oos) if oos is not None else ~abstain
    labels = sorted(set(truth.tolist()) | set(pred.tolist()))
    p, r, f, n = precision_recall_fscore_support(truth, pred, labels=labels, zero_division=0)
    return {"by_class": {
        label: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                "f1": round(float(f[i]), 4), "support": int(n[i]),
                "answered": round(float(answered[truth == label].mean()), 4) if n[i] else None}
        for i, label in enumerate(labels)}}
