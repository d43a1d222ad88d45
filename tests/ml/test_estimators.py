"""The estimator contract, calibration and the offline encoder, on small Banking77 slices."""

from __future__ import annotations

import pickle
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from supportops.ml.embeddings import Encoder
from supportops.ml.estimators import (
    EmbeddingMLPClassifier,
    FieldClassifier,
    TextClassifier,
    calibration_split,
    fit_temperature,
    softmax,
)
from tests.conftest import shared_file

BANKING = "banking77/train.csv"


def banking_slice(n_classes: int = 8, per_class: int = 40) -> tuple[list[str], list[str]]:
    """A small, fixed slice: the first classes, the first rows of each."""
    df = pd.read_csv(shared_file(BANKING))
    keep = sorted(df["category"].unique())[:n_classes]
    part = df[df["category"].isin(keep)].groupby("category").head(per_class)
    return part["text"].tolist(), part["category"].tolist()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any socket connection fails loudly: proves the encoder never downloads."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    yield


@pytest.fixture(scope="module")
def encoder_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by the test modules of one session, so the ONNX export is built once."""
    return tmp_path_factory.getbasetemp() / "encoder-cache"


def test_text_classifier_contract() -> None:
    clf = TextClassifier(None, C=0.7)
    with pytest.raises(NotFittedError):
        clf.predict_proba(["where is my card"])
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and twin is not clf
    assert not hasattr(twin, "classes_")


def test_text_classifier_fits_and_is_calibrated() -> None:
    texts, labels = banking_slice()
    train = [i for i in range(len(texts)) if i % 5]
    test = [i for i in range(len(texts)) if not i % 5]
    clf = TextClassifier(None).fit([texts[i] for i in train], [labels[i] for i in train])
    assert clf.fit([texts[i] for i in train], [labels[i] for i in train]) is clf
    proba = clf.predict_proba([texts[i] for i in test])
    assert proba.shape == (len(test), 8)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    assert list(clf.classes_) == sorted(set(labels))
    accuracy = np.mean(clf.predict([texts[i] for i in test]) == np.array(labels)[test])
    assert accuracy > 0.7
    assert clf.temperature_ > 0


def test_bad_parameter_names_the_value() -> None:
    with pytest.raises(ValueError, match=r"calibration_fraction.*Got 0\.9 instead"):
        TextClassifier(None, calibration_fraction=0.9).fit(["a b", "c d"], ["x", "y"])


def test_fit_temperature_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(20_000, 5))
    p = softmax(logits, 2.0)
    y = np.array([rng.choice(5, p=row) for row in p], dtype=np.intp)
    assert fit_temperature(logits, y) == pytest.approx(2.0, rel=0.1)


def test_calibration_split_keeps_every_class_in_training() -> None:
    y = np.array([0] * 50 + [1] * 3 + [2], dtype=np.intp)
    train, held = calibration_split(y, 0.2, seed=0)
    assert set(y[train]) == {0, 1, 2}
    assert len(held) == 10 and not set(train) & set(held)


def routing_frame(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """Synthetic tickets whose group follows category and impact, with noise columns."""
    rng = np.random.default_rng(seed)
    cat = rng.choice([f"Category {i}" for i in range(6)], n)
    impact = rng.choice(["1 - High", "2 - Medium", "3 - Low"], n)
    noise = rng.choice([f"Location {i}" for i in range(30)], n)
    high = np.char.startswith(impact.astype(str), "1")
    group = [f"Group {c[-1]}{'H' if h else ''}" for c, h in zip(cat, high, strict=True)]
    return pd.DataFrame({"category": cat, "impact": impact, "location": noise}), group


def test_field_classifier_contract_and_unseen_values() -> None:
    X, y = routing_frame()
    clf = FieldClassifier(n_estimators=30, max_depth=3, n_jobs=1)
    with pytest.raises(NotFittedError):
        clf.predict_proba(X)
    assert clone(clf).get_params() == clf.get_params()
    clf.fit(X.iloc[:500], y[:500])
    assert np.mean(clf.predict(X.iloc[500:]) == np.array(y[500:])) > 0.95
    novel = X.iloc[:3].assign(location="Location never seen", category="Category 99")
    proba = clf.predict_proba(novel)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    with pytest.raises(ValueError, match="impact"):
        clf.predict_proba(X.drop(columns="impact"))


def additive_frame(n: int = 1500, seed: int = 0, fields: int = 4, values: int = 40,
                   k: int = 5) -> tuple[pd.DataFrame, list[str]]:
    """Tickets whose group is the argmax of a sum of per-value scores over several fields:
    the signal is additive over one-hot fields, which shallow, few trees capture poorly."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(fields, values, k))
    codes = rng.integers(0, values, size=(n, fields))
    total = sum(scores[f, codes[:, f]] for f in range(fields)) + rng.normal(0, 0.3, (n, k))
    X = pd.DataFrame({f"field{f}": [f"v{c}" for c in codes[:, f]] for f in range(fields)})
    return X, [f"Group {i}" for i in np.asarray(total).argmax(axis=1)]


@pytest.mark.parametrize("blend", ["geometric", "arithmetic"])
def test_field_classifier_blends_one_hot_linear_model(blend: str) -> None:
    X, y = additive_frame()
    truth = np.array(y[1000:])

    def scored(clf: FieldClassifier) -> tuple[float, float, npt.NDArray[np.float64]]:
        clf.fit(X.iloc[:1000], y[:1000])
        proba = clf.predict_proba(X.iloc[1000:])
        idx = np.searchsorted(clf.classes_, truth)
        nll = float(-np.mean(np.log(proba[np.arange(len(truth)), idx])))
        return float(np.mean(clf.classes_[proba.argmax(axis=1)] == truth)), nll, proba

    trees = FieldClassifier(n_estimators=30, max_depth=3, n_jobs=1, linear_weight=0.0)
    acc_trees, nll_trees, p_trees = scored(trees)
    assert getattr(trees, "linear_", None) is None
    blended = FieldClassifier(n_estimators=30, max_depth=3, n_jobs=1, blend=blend)
    assert blended.linear_weight == 0.5, "the blend is on by default"
    acc_blend, nll_blend, p_blend = scored(blended)
    assert blended.linear_ is not None
    assert not np.allclose(p_blend, p_trees), "the linear member changes the probabilities"
    assert acc_blend >= acc_trees + 0.03
    assert nll_blend <= nll_trees - 0.1
    np.testing.assert_allclose(p_blend.sum(axis=1), 1.0, rtol=1e-9)
    unseen = blended.predict_proba(X.iloc[:2].assign(field0="never seen"))
    np.testing.assert_allclose(unseen.sum(axis=1), 1.0, rtol=1e-9)
    with pytest.raises(ValueError, match="blend"):
        FieldClassifier(blend="harmonic").fit(X.iloc[:100], y[:100])
    with pytest.raises(ValueError, match="linear_weight"):
        FieldClassifier(linear_weight=1.5).fit(X.iloc[:100], y[:100])


@pytest.mark.usefixtures("no_network")
def test_encoder_offline_deterministic_cached_and_picklable(encoder_cache: Path) -> None:
    enc = Encoder("minilm-onnx-int8", cache_dir=encoder_cache)
    texts = ["I lost my card", "How do I top up by bank transfer?", "I lost my card"]
    first = enc.encode(texts)
    assert first.dtype == np.float32 and first.shape == (3, enc.dim)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(first[0], first[2])
    np.testing.assert_array_equal(enc.encode(texts[:1])[0], first[0])  # LRU hit
    enc.clear_cache()
    np.testing.assert_allclose(enc.encode(texts), first, atol=1e-6)  # recomputed, same
    assert list(encoder_cache.glob("*.int8.onnx")), "export is kept in the caller's cache"
    again = Encoder("minilm-onnx-int8", cache_dir=encoder_cache)
    assert again.name == enc.name
    restored = pickle.loads(pickle.dumps(enc))
    np.testing.assert_allclose(restored.encode(texts), first, atol=1e-6)


def test_a_vector_does_not_depend_on_the_texts_encoded_with_it(encoder_cache: Path) -> None:
    """int8 activations are scaled per input tensor: in padded batches a ticket's vector (and
    so its category) changed with its neighbours. Alone, each call and order agree exactly."""
    enc = Encoder("minilm-onnx-int8", cache_dir=encoder_cache, cache_size=0)
    texts, _ = banking_slice(n_classes=4, per_class=10)
    texts.append("URGENT!!! " + "my card payment failed again and again, " * 20)  # long, loud
    alone = np.stack([enc.encode([t])[0] for t in texts])
    together = enc.encode(texts)  # more texts than run alone: shared among the workers
    np.testing.assert_array_equal(together, alone)
    order = np.random.default_rng(0).permutation(len(texts))
    np.testing.assert_array_equal(enc.encode([texts[i] for i in order]), alone[order])
    np.testing.assert_array_equal(enc.encode(texts[:5]), alone[:5])  # on the caller's thread


def test_encoder_workers_in_a_forked_child(encoder_cache: Path) -> None:
    """A child forked after the parent's pool started has none of its threads: it must make
    its own pool instead of queueing work that nothing would ever run."""
    import multiprocessing

    enc = Encoder("minilm-onnx-int8", cache_dir=encoder_cache, cache_size=0)
    texts = [f"where is my card number {i}?" for i in range(20)]
    expected = enc.encode(texts)  # starts the parent's workers
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    child = ctx.Process(target=lambda: results.put(enc.encode(texts)))  # the same object
    child.start()
    try:
        got = results.get(timeout=60)
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    np.testing.assert_array_equal(got, expected)


def test_encoder_rejects_unknown_kind_and_missing_cache_dir() -> None:
    with pytest.raises(ValueError, match=r"'kind'.*Got 'bert-large' instead"):
        Encoder("bert-large", cache_dir=".")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cache_dir"):
        Encoder("static")


def test_text_classifier_with_encoder_clones_and_shares_it(encoder_cache: Path) -> None:
    enc = Encoder("minilm-onnx-int8", cache_dir=encoder_cache)
    texts, labels = banking_slice(n_classes=4, per_class=25)
    clf = TextClassifier(enc).fit(texts, labels)
    twin = clone(clf)
    assert twin.encoder is enc
    assert np.mean(clf.predict(texts) == np.array(labels)) > 0.9


def test_torch_mlp_contract_and_fit(encoder_cache: Path) -> None:
    enc = Encoder("minilm-onnx-int8", cache_dir=encoder_cache)
    mlp = EmbeddingMLPClassifier(enc, hidden=64, epochs=15)
    with pytest.raises(NotFittedError):
        mlp.predict_proba(["card"])
    assert clone(mlp).get_params() == mlp.get_params()
    texts, labels = banking_slice(n_classes=4, per_class=25)
    proba = mlp.fit(texts, labels).predict_proba(texts)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert np.mean(mlp.predict(texts) == np.array(labels)) > 0.9
    again = clone(mlp).fit(texts, labels).predict_proba(texts)
    np.testing.assert_allclose(again, proba, atol=1e-6)  # seeded: same data, same model


def subject_corpus() -> tuple[list[str], list[str], list[str | None]]:
    """Banking77 rows (no subject: each its own) plus one customer's tickets with a made-up
    phrase and their pseudonym tokens, and a second customer who repeats the phrase."""
    texts, labels = banking_slice(n_classes=4, per_class=25)
    subjects: list[str | None] = [None] * len(texts)
    c1 = [f"zebra-quartz-771 my card {w} <PERSON_70171109abcd1234> "
          "<EMAIL_ADDRESS_0123456789abcdef>" for w in ("arrived late", "never came", "is late",
                                                       "where", "still missing", "status")]
    c2 = ["zebra-quartz-771 card not here <PHONE_NUMBER_fedcba9876543210>"] * 3
    texts += c1 + c2
    labels += [labels[0]] * (len(c1) + len(c2))
    subjects += ["C1"] * len(c1) + ["C2"] * len(c2)
    return texts, labels, subjects


def test_pickled_model_holds_no_term_of_fewer_than_k_subjects() -> None:
    texts, labels, subjects = subject_corpus()
    clf = TextClassifier(None).fit(texts, labels, subjects=subjects)  # k = 3 by default
    blob = pickle.dumps(clf)
    for secret in (b"zebra", b"quartz", b"771", b"ebra-q", b"70171109", b"0123456789abcdef",
                   b"fedcba9876543210", b"<PERSON_", b"person_"):
        assert secret not in blob.lower(), secret  # two subjects at most wrote these
    assert b"card" in blob  # a term of many subjects is kept, as a check that this can fail
    # pseudonyms count by kind: <PERSON> comes from one subject, so it is dropped as well
    vocab = set(clf.word_vectorizer_.vocabulary_) | set(clf.char_vectorizer_.vocabulary_)
    assert not any("zebra" in term or "person" in term for term in vocab)
    two = TextClassifier(None, min_subjects=2).fit(texts, labels, subjects=subjects)
    assert "zebra" in two.word_vectorizer_.vocabulary_  # C1 and C2: two subjects
    assert "person" not in two.word_vectorizer_.vocabulary_  # C1 only
    loose = TextClassifier(None, min_subjects=1).fit(texts, labels, subjects=subjects)
    loose_blob = pickle.dumps(loose)
    assert b"zebra" in loose_blob and b"70171109" not in loose_blob  # kinds only, even at k=1
    assert "person" in loose.word_vectorizer_.vocabulary_


def test_rows_without_subject_count_as_their_own() -> None:
    texts = ["alpha card", "alpha card", "beta card", "beta card", "beta card", "gamma card"]
    labels = ["x", "x", "y", "y", "y", "x"]
    texts, labels = texts * 2, labels * 2  # rows for the calibration split
    clf = TextClassifier(None, calibration_fraction=0.3).fit(texts, labels)
    assert "alpha" in clf.word_vectorizer_.vocabulary_  # four rows: four subjects
    assert "gamma" not in clf.word_vectorizer_.vocabulary_  # two rows
    same = TextClassifier(None, calibration_fraction=0.3).fit(
        texts, labels, subjects=["s", "s", "s", "t", "u", "s"] * 2)
    assert "alpha" not in same.word_vectorizer_.vocabulary_
    assert "beta" in same.word_vectorizer_.vocabulary_
    with pytest.raises(ValueError, match="subjects for 12 texts"):
        TextClassifier(None).fit(texts, labels, subjects=["s"])
    with pytest.raises(ValueError, match="min_subjects"):
        TextClassifier(None, min_subjects=0).fit(texts, labels)
