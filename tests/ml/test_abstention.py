"""Abstention: thresholds meet their precision target, out-of-scope inputs are flagged,
and predictions come out in the record contract."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from supportops.errors import ValidationFailed
from supportops.ml.embeddings import Encoder
from supportops.triage.abstention import (
    ConfidenceThreshold,
    OutOfScopeDetector,
    coverage_at_precision,
    prediction_records,
    triage_metrics,
)
from tests.ml.test_estimators import banking_slice


def calibrated_predictions(n: int, k: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities whose top value is the true chance of being right (by construction)."""
    rng = np.random.default_rng(seed)
    top = rng.uniform(1.0 / k, 1.0, n)
    pred = rng.integers(0, k, n)
    proba = np.tile(((1 - top) / (k - 1))[:, None], (1, k))
    proba[np.arange(n), pred] = top
    right = rng.uniform(size=n) < top
    wrong = (pred + rng.integers(1, k, n)) % k
    return proba, np.where(right, pred, wrong)


def test_coverage_at_precision_by_hand() -> None:
    conf, correct = [0.9, 0.8, 0.7, 0.6], [True, True, False, True]
    assert coverage_at_precision(conf, correct, 1.0) == (0.5, 0.8)
    assert coverage_at_precision(conf, correct, 0.75) == (1.0, 0.6)
    coverage, threshold = coverage_at_precision([0.5, 0.5], [True, False], 0.9)
    assert coverage == 0.0 and threshold > 0.5  # a tie is kept or dropped as a whole


@pytest.mark.parametrize("per_class", [False, True])
@pytest.mark.parametrize("target", [0.90, 0.95, 0.99])
def test_thresholds_hit_the_precision_target(target: float, per_class: bool) -> None:
    proba, y = calibrated_predictions(40_000)
    th = ConfidenceThreshold(target, per_class=per_class).fit(proba[:20_000], y[:20_000])
    assert th.precision_ >= target  # exact on the data it was chosen on
    kept = ~th.abstain(proba[20_000:])
    held_precision = np.mean(proba[20_000:].argmax(1)[kept] == y[20_000:][kept])
    assert held_precision >= target - 0.02  # the point estimate is a little optimistic
    assert 0.0 < kept.mean() < 1.0
    careful = ConfidenceThreshold(target, per_class=per_class, z=1.645)
    kept = ~careful.fit(proba[:20_000], y[:20_000]).abstain(proba[20_000:])
    assert np.mean(proba[20_000:].argmax(1)[kept] == y[20_000:][kept]) >= target - 0.003


def test_threshold_contract_and_errors() -> None:
    th = ConfidenceThreshold(0.9)
    with pytest.raises(NotFittedError):
        th.abstain(np.full((1, 2), 0.5))
    assert clone(th).get_params() == th.get_params()
    with pytest.raises(ValueError, match=r"'precision'.*Got 1\.5 instead"):
        ConfidenceThreshold(1.5).fit(np.full((2, 2), 0.5), [0, 1])
    with pytest.raises(ValueError, match=r"'min_coverage'.*Got 2 instead"):
        ConfidenceThreshold(0.9, min_coverage=2).fit(np.full((2, 2), 0.5), [0, 1])
    with pytest.raises(ValueError, match="not in 'classes'"):
        triage_metrics(["z"], np.full((1, 2), 0.5), ["a", "b"])


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Encoder:
    cache: Path = tmp_path_factory.getbasetemp() / "encoder-cache"
    return Encoder("minilm-onnx-int8", cache_dir=cache)


def test_out_of_scope_flags_gibberish_and_other_domains(encoder: Encoder) -> None:
    texts, labels = banking_slice(n_classes=77, per_class=12)
    train, held = texts[::2], texts[1::2]
    oos = OutOfScopeDetector(quantile=0.02, confidence_weight=0.0)
    with pytest.raises(NotFittedError):
        oos.score_samples(encoder.encode(held[:1]))
    oos.fit(encoder.encode(train), labels[::2])
    assert clone(oos).get_params() == oos.get_params()
    foreign = ["asdkj qwpeoi zmxncb", "What is the capital of France?",
               "write me a poem about the sea", "my cat is sick, what should I feed her"]
    assert oos.is_out_of_scope(encoder.encode(foreign)).all()
    assert list(oos.predict(encoder.encode(foreign))) == [-1] * 4
    assert oos.is_out_of_scope(encoder.encode(held)).mean() < 0.10


def gaussian_classes(n_per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated classes in 16 dimensions."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.array(["a", "b", "c"]), n_per_class)
    X = rng.normal(size=(len(y), 16))
    X[y == "a", 0] += 6
    X[y == "b", 1] += 6
    return X, y


def test_out_of_scope_threshold_from_held_rows_and_confidence() -> None:
    X, y = gaussian_classes(200)
    held, _ = gaussian_classes(100, seed=1)
    rng = np.random.default_rng(2)
    oos = OutOfScopeDetector(quantile=0.05).fit(X, y, X_held=held,
                                                confidence_held=rng.uniform(0.8, 1.0, 300))
    fresh, _ = gaussian_classes(300, seed=3)
    sure = rng.uniform(0.8, 1.0, len(fresh))  # as confident as on the held rows
    assert 0.0 < oos.is_out_of_scope(fresh, sure).mean() < 0.12
    far = rng.normal(size=(50, 16)) + 12
    assert oos.is_out_of_scope(far, sure[:50]).all()
    torn = np.full(len(fresh), 0.3)  # in the classes' region, yet the classifier is unsure
    assert oos.is_out_of_scope(fresh, torn).mean() > 0.9
    with pytest.raises(ValueError, match="confidence"):
        oos.score_samples(fresh)
    with pytest.raises(ValueError, match="confidence_held"):
        OutOfScopeDetector().fit(X, y)


def test_out_of_scope_detector_keeps_aggregates_only() -> None:
    """No per-example embedding is stored: the fitted state does not grow with the rows, and
    a class from fewer than k subjects has no centroid."""
    small, y_small = gaussian_classes(50)
    large, y_large = gaussian_classes(2000)
    sizes = [len(pickle.dumps(OutOfScopeDetector(confidence_weight=0).fit(X, y)))
             for X, y in ((small, y_small), (large, y_large))]
    assert sizes[0] == sizes[1]
    fitted = OutOfScopeDetector(confidence_weight=0).fit(large, y_large)
    for value in vars(fitted).values():
        assert not (isinstance(value, np.ndarray) and value.shape[0] >= len(large))
    subjects = ["one"] * 2000 + ["two"] * 2000 + [f"s{i}" for i in range(2000)]
    alone = OutOfScopeDetector(confidence_weight=0).fit(large, y_large, subjects)
    assert list(alone.classes_) == ["c"]  # classes a and b come from one subject each
    pooled = OutOfScopeDetector(confidence_weight=0).fit(
        large, y_large, ["one"] * 2000 + ["two"] * 2000 + ["three"] * 2000)
    assert len(pooled.classes_) == 0 and pooled.centroids_white_.shape[0] == 1
    with pytest.raises(ValidationFailed, match="2 distinct subjects"):
        OutOfScopeDetector(confidence_weight=0).fit(large, y_large, ["x", "y"] * 3000)


def test_prediction_records_contract() -> None:
    classes = np.array(["card_arrival", "lost_card", "top_up"])
    proba = np.array([[0.97, 0.02, 0.01], [0.40, 0.35, 0.25], [0.05, 0.9, 0.05]])
    th = ConfidenceThreshold(1.0).fit(proba, [0, 1, 1])  # keeps only the 0.97 and 0.9 rows
    records = prediction_records(["t1", "t2", "t3"], proba, classes, thresholds=th,
                                 out_of_scope=[False, False, True], top_k=2)
    assert [r["abstained"] for r in records] == [False, True, True]
    first = records[0]
    assert set(first) == {"id", "label", "confidence", "top", "abstained"}
    assert first["label"] == "card_arrival" and first["confidence"] == pytest.approx(0.97)
    assert first["top"] == [["card_arrival", 0.97], ["lost_card", 0.02]]
    assert records[1]["label"] is None and records[1]["top"][0][0] == "card_arrival"
    json.dumps(records)  # plain Python values only
    with pytest.raises(ValueError, match="ids"):
        prediction_records(["only-one"], proba, classes)


def test_triage_metrics() -> None:
    proba, y = calibrated_predictions(5_000)
    classes = np.arange(5)
    metrics = triage_metrics(y, proba, classes)
    assert set(metrics) == {"accuracy", "macro_f1", "coverage_at_p90", "coverage_at_p95",
                            "coverage_at_p99"}
    assert metrics["coverage_at_p90"] >= metrics["coverage_at_p95"] >= metrics["coverage_at_p99"]
    assert 0.5 < metrics["accuracy"] < 0.7


def test_triage_model_pickle_holds_no_rare_term_token_or_example_embedding(
        encoder: Encoder) -> None:
    """The whole model as the registry stores it: vocabularies, detector and all."""
    from supportops.triage.model import TriageModel
    from tests.ml.test_estimators import subject_corpus

    texts, labels, subjects = subject_corpus()
    rows = [{"text": t, "subject": s} for t, s in zip(texts, subjects, strict=True)]
    model = TriageModel("text", encoder).fit(rows, labels)
    blob = pickle.dumps(model)
    for secret in (b"zebra", b"quartz", b"771", b"70171109", b"0123456789abcdef",
                   b"fedcba9876543210", b"<PERSON_"):
        assert secret not in blob.lower(), secret
    assert b"card" in blob
    assert model.oos_ is not None
    assert len(model.oos_.classes_) == len(set(labels))
    for name, value in vars(model.oos_).items():  # one row per class, or dim x dim at most
        if isinstance(value, np.ndarray) and value.ndim == 2:
            assert value.shape[0] in (len(set(labels)), encoder.dim), name
