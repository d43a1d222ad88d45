"""Triage classifiers that follow the scikit-learn estimator contract.

Why the contract: ``clone``, ``Pipeline``, grid search and MLflow's sklearn flavour then work
for free. Hyperparameters are only stored in ``__init__``; ``fit`` returns ``self``; learned
state lives in ``trailing_underscore_`` attributes; ``check_is_fitted`` guards every use.

Both classifiers return *calibrated* ``predict_proba``: the model is first fitted on a
stratified inner split, a single softmax temperature is fitted on the held-out part by
likelihood, and the final model is refitted on all rows and keeps that temperature. The
abstention thresholds downstream only mean something if 0.9 means "right 9 times in 10".

Models forget (issue 8): a fitted model holds no string from fewer than ``min_subjects``
distinct data subjects. Vocabularies (word and char n-grams) keep only terms seen in that
many subjects' texts, and pseudonym tokens (``<PERSON_70171109abcd1234>``) enter the
n-grams and the sentence encoder by kind only (``<PERSON>``), so no token of a person is
ever a feature. That also makes a model reproducible: a token's spelling follows the
tenant's key, so two workspaces fed the same file write different tokens, and a model that
read them would differ too (the encoder gave those texts vectors up to 0.09 apart).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize_scalar
from scipy.sparse import coo_matrix, csr_matrix, hstack
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import LabelEncoder
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from supportops.errors import ValidationFailed
from supportops.ml.embeddings import Encoder

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def softmax(logits: FloatArray, temperature: float = 1.0) -> FloatArray:
    """Row-wise softmax of ``logits / temperature``, stable for large margins."""
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


def fit_temperature(logits: FloatArray, y: IntArray) -> float:
    """The temperature that minimises held-out negative log-likelihood (Guo et al. 2017)."""

    def nll(log_t: float) -> float:
        p = softmax(logits, float(np.exp(log_t)))
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None))))

    res = minimize_scalar(nll, bounds=(-5.0, 5.0), method="bounded")
    return float(np.exp(res.x))


def calibration_split(y: IntArray, fraction: float, seed: int) -> tuple[IntArray, IntArray]:
    """Stratified split that keeps every class in the training part (rare classes stay whole)."""
    rng = np.random.default_rng(seed)
    train: list[int] = []
    held: list[int] = []
    for cls in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == cls))
        n_held = int(len(rows) * fraction)
        held.extend(rows[:n_held].tolist())
        train.extend(rows[n_held:].tolist())
    return np.sort(np.array(train, dtype=np.intp)), np.sort(np.array(held, dtype=np.intp))


def _check_fraction(owner: str, value: float) -> None:
    if not 0.0 < value < 0.5:
        raise ValueError(f"The 'calibration_fraction' parameter of {owner} must be in (0, 0.5). "
                         f"Got {value!r} instead.")


def _full_logits(raw: FloatArray, seen: IntArray, n_classes: int) -> FloatArray:
    """Spread logits of a model that saw only ``seen`` classes over all classes."""
    if raw.ndim == 1:  # binary decision_function
        raw = np.column_stack([-raw, raw])
    out = np.full((raw.shape[0], n_classes), -1e3, dtype=np.float64)
    out[:, seen] = raw
    return out


#: A pseudonym token as the privacy room writes it: ``<KIND_16hex>``.
PSEUDONYM = re.compile(r"<([A-Z][A-Z0-9_]*)_[0-9a-f]{16}>")


def pseudonyms_by_kind(text: str) -> str:
    """``<PERSON_70171109abcd1234>`` -> ``<PERSON>``: the kind is a feature, the person never."""
    return PSEUDONYM.sub(r"<\1>", text)


def encode_by_kind(encoder: Encoder, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """Sentence vectors of ``texts`` with pseudonym tokens read by kind (see the module
    docstring): the same ticket is the same point in every workspace."""
    return encoder.encode([pseudonyms_by_kind(t) for t in texts])


def subject_ids(subjects: Sequence[Any] | None, n: int) -> IntArray:
    """One integer per row naming its subject; a row without one is a subject of its own."""
    if subjects is None:
        return np.arange(n, dtype=np.intp)
    if len(subjects) != n:
        raise ValueError(f"Got {len(subjects)} subjects for {n} texts; pass one per row "
                         "(None for a row without a subject).")
    ids: dict[Any, int] = {}
    out = np.empty(n, dtype=np.intp)
    for row, subject in enumerate(subjects):
        key = ("row", row) if subject is None or subject == "" else ("subject", subject)
        out[row] = ids.setdefault(key, len(ids))
    return out


def subjects_per_column(indicator: Any, subject: IntArray) -> IntArray:
    """How many distinct subjects have a non-zero in each column of a (rows x cols) matrix."""
    rows = np.arange(len(subject))
    owner = coo_matrix((np.ones(len(subject)), (subject, rows)),
                       shape=(int(subject.max()) + 1 if len(subject) else 0, len(subject)))
    per_subject = (owner.tocsr() @ (indicator != 0).astype(np.float64)).tocsr()
    return np.asarray((per_subject > 0).sum(axis=0), dtype=np.intp).ravel()


def subject_vocabulary(analyzer: Callable[[str], list[str]], texts: list[str],
                       subject: IntArray, min_subjects: int) -> list[str]:
    """Terms that ``analyzer`` finds in the texts of at least ``min_subjects`` subjects."""
    counts = CountVectorizer(analyzer=analyzer, binary=True)
    matrix = counts.fit_transform(texts)
    terms = counts.get_feature_names_out()
    keep = subjects_per_column(matrix, subject) >= min_subjects
    return [str(t) for t in terms[keep]]


def private_tfidf(template: TfidfVectorizer, texts: list[str], subject: IntArray,
                  min_subjects: int) -> TfidfVectorizer:
    """A TF-IDF vectoriser like ``template`` whose vocabulary holds only terms from at least
    ``min_subjects`` subjects; no pruned term is kept anywhere in the fitted object."""
    terms = subject_vocabulary(template.build_analyzer(), texts, subject, min_subjects)
    if not terms:
        raise ValidationFailed(f"No term occurs in the texts of {min_subjects} distinct "
                               "subjects, and a model keeps only such terms. Train on tickets "
                               "of more customers.")
    params = {**template.get_params(), "vocabulary": terms, "min_df": 1, "max_df": 1.0}
    return TfidfVectorizer(**params).fit(texts)


class TextClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Intent classifier over sentence embeddings plus TF-IDF word and char n-grams.

    A linear SVM on ``[embedding_weight * embedding, tfidf_words, tfidf_chars]``: the
    embedding brings paraphrase knowledge, the n-grams bring the exact product words that a
    small frozen encoder blurs. On Banking77 the pair beats either half (see bench/triage.py).
    ``encoder=None`` uses the n-grams alone (fast, for tests and cold starts).

    Options for tickets with a subject line and a long body (GitHub issues, e-mails), off by
    default: ``title_weight`` adds word and char n-grams of the first line (the subject line,
    which a snapshot puts first) as a block of their own, and ``title_embedding_weight`` its
    sentence embedding, so the few words that name the problem are not drowned by the body;
    ``max_chars`` reads n-grams from the first ``max_chars`` characters only, since long
    bodies are mostly pasted logs and code. The encoder always sees the whole text (it has
    its own window), so the embedding cache stays valid.
    """

    def __init__(
        self,
        encoder: Encoder | None = None,
        *,
        embedding_weight: float = 2.0,
        C: float = 0.5,
        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] = (2, 5),
        min_subjects: int = 3,
        calibration_fraction: float = 0.15,
        title_weight: float = 0.0,
        title_embedding_weight: float = 0.0,
        max_chars: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.encoder = encoder
        self.embedding_weight = embedding_weight
        self.min_subjects = min_subjects
        self.C = C
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.calibration_fraction = calibration_fraction
        self.title_weight = title_weight
        self.title_embedding_weight = title_embedding_weight
        self.max_chars = max_chars
        self.random_state = random_state

    def fit(self, X: Sequence[str], y: Sequence[Any],
            subjects: Sequence[Any] | None = None) -> TextClassifier:
        """Fit vectorisers, a calibration model + temperature, then the final model.

        ``subjects`` names each row's data subject (None: a subject of its own); n-grams
        from fewer than ``min_subjects`` subjects never become features.
        """
        _check_fraction(type(self).__name__, self.calibration_fraction)
        texts = _as_texts(X)
        self.label_encoder_ = LabelEncoder().fit(list(y))
        self.classes_ = self.label_encoder_.classes_
        y_idx = np.asarray(self.label_encoder_.transform(list(y)), dtype=np.intp)
        self._fit_vectorizers(texts, subject_ids(subjects, len(texts)))
        features = self._features(texts)
        inner, held = calibration_split(y_idx, self.calibration_fraction, self.random_state)
        probe = self._new_svm().fit(features[inner], y_idx[inner])
        seen = np.asarray(probe.classes_, dtype=np.intp)
        logits = _full_logits(probe.decision_function(features[held]), seen, len(self.classes_))
        self.temperature_ = fit_temperature(logits, y_idx[held])
        self.model_ = self._new_svm().fit(features, y_idx)
        return self

    def _fit_vectorizers(self, texts: list[str], subject: IntArray) -> None:
        self._check_params()
        plain = [self._head(t) for t in texts]
        self.word_vectorizer_, self.char_vectorizer_ = self._private_pair(plain, subject)
        self.title_vectorizers_: tuple[TfidfVectorizer, TfidfVectorizer] | None = None
        if self.title_weight > 0:
            titles = [first_line(pseudonyms_by_kind(t)) for t in texts]
            self.title_vectorizers_ = self._private_pair(titles, subject)

    def _check_params(self) -> None:
        name = type(self).__name__
        if self.min_subjects < 1:
            raise ValueError(f"The 'min_subjects' parameter of {name} must be >= 1. "
                             f"Got {self.min_subjects!r} instead.")
        for option in ("title_weight", "title_embedding_weight"):
            if getattr(self, option) < 0:
                raise ValueError(f"The '{option}' parameter of {name} must be >= 0. "
                                 f"Got {getattr(self, option)!r} instead.")
        if self.max_chars is not None and self.max_chars < 1:
            raise ValueError(f"The 'max_chars' parameter of {name} must be None or >= 1. "
                             f"Got {self.max_chars!r} instead.")

    def _private_pair(self, texts: list[str],
                      subject: IntArray) -> tuple[TfidfVectorizer, TfidfVectorizer]:
        """Word and char n-gram vectorisers over ``texts``, pruned to ``min_subjects``."""
        words = TfidfVectorizer(ngram_range=self.word_ngrams, sublinear_tf=True)
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=self.char_ngrams,
                                sublinear_tf=True)
        return (private_tfidf(words, texts, subject, self.min_subjects),
                private_tfidf(chars, texts, subject, self.min_subjects))

    def _head(self, text: str) -> str:
        """The part of a text its n-grams are read from (pseudonyms by kind only)."""
        plain = pseudonyms_by_kind(text)
        return plain[: self.max_chars] if self.max_chars else plain

    def _new_svm(self) -> LinearSVC:
        return LinearSVC(C=self.C, random_state=self.random_state)

    def _features(self, texts: list[str]) -> csr_matrix:
        plain = [self._head(t) for t in texts]
        blocks = [self.word_vectorizer_.transform(plain), self.char_vectorizer_.transform(plain)]
        titled = getattr(self, "title_vectorizers_", None)  # absent in models fitted before
        if titled is not None:
            titles = [first_line(pseudonyms_by_kind(t)) for t in texts]
            blocks.extend(v.transform(titles) * self.title_weight for v in titled)
        if self.encoder is not None:
            emb = encode_by_kind(self.encoder, texts).astype(np.float64) * self.embedding_weight
            blocks.insert(0, csr_matrix(emb))
            if self.title_embedding_weight > 0:
                titles = [first_line(t) for t in texts]
                emb = encode_by_kind(self.encoder, titles).astype(np.float64)
                blocks.insert(1, csr_matrix(emb * self.title_embedding_weight))
        return hstack(blocks, format="csr")

    def decision_function(self, X: Sequence[str]) -> FloatArray:
        """Uncalibrated per-class margins (the logits that the temperature scales)."""
        check_is_fitted(self, "model_")
        raw = np.asarray(self.model_.decision_function(self._features(_as_texts(X))))
        seen = np.asarray(self.model_.classes_, dtype=np.intp)
        return _full_logits(raw, seen, len(self.classes_))

    def predict_proba(self, X: Sequence[str]) -> FloatArray:
        """Calibrated class probabilities, columns in ``classes_`` order."""
        return softmax(self.decision_function(X), self.temperature_)

    def predict(self, X: Sequence[str]) -> npt.NDArray[Any]:
        """Most probable label per text."""
        return np.asarray(self.classes_[np.argmax(self.decision_function(X), axis=1)])


def first_line(text: str) -> str:
    """A ticket's subject line: snapshots write it first, then a newline, then the body; a
    text without a newline has no subject line (its only line is the body)."""
    head, sep, _ = text.partition("\n")
    return head if sep else ""


def _as_texts(X: Sequence[str]) -> list[str]:
    if isinstance(X, str):
        raise TypeError("Expected a sequence of texts, got one str; wrap it in a list.")
    return [str(t) for t in X]


#: How ``FieldClassifier`` mixes its two members' probabilities: a weighted geometric mean
#: (renormalised) or a weighted arithmetic mean.
BLENDS = ("geometric", "arithmetic")


def log_softmax(logits: FloatArray) -> FloatArray:
    """Row-wise log of :func:`softmax`, exact for large margins."""
    z = logits - logits.max(axis=1, keepdims=True)
    return np.asarray(z - np.log(np.exp(z).sum(axis=1, keepdims=True)), dtype=np.float64)


def blend_logits(trees: FloatArray, linear: FloatArray | None, weight: float,
                 blend: str = "geometric") -> FloatArray:
    """Logits of two models' probabilities mixed with ``weight`` on ``linear``.

    Why both means: the geometric one lets either member veto a class, the arithmetic one
    keeps a class that either member likes; which suits a data set is a dev-split choice.
    With no weight (or no linear member) the trees' logits come back unchanged.
    """
    if blend not in BLENDS:
        raise ValueError(f"The 'blend' parameter must be one of {BLENDS}. Got {blend!r} instead.")
    if weight <= 0.0 or linear is None:
        return trees
    if blend == "geometric":
        return (1.0 - weight) * log_softmax(trees) + weight * log_softmax(linear)
    mixed = (1.0 - weight) * softmax(trees) + weight * softmax(linear)
    return np.asarray(np.log(np.clip(mixed, 1e-300, None)), dtype=np.float64)


class FieldClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """XGBoost over categorical ticket fields (category, contact type, impact, ...), blended
    with a one-hot logistic regression over the same fields.

    Routing by structured fields is what most help desks have at open time; XGBoost's native
    categorical splits handle high-cardinality codes without one-hot blow-up. Unseen values
    at predict time become missing, which the trees route by their learned default. The
    trees rank well but are over-confident on rare field values; a linear model over one-hot
    fields shares strength across values and, blended in (``linear_weight`` of the
    probabilities, ``blend`` mean), lets more tickets clear a high precision threshold. The
    blend is calibrated as one model: the temperature is fitted on the blended held-out
    logits. The one-hot columns are the trees' own category codes, so the linear
    model holds no string of its own; an unseen value is an all-zero block.

    Defaults chosen on the dev part of the incident log only (``bench/routing.py --select``):
    coverage at precision 0.90 is 0.147 for the trees alone, 0.209 geometric and 0.218
    arithmetic at weight 0.5; weights 0.75 and 1.0 are within two tickets of it.
    """

    def __init__(
        self,
        columns: Sequence[str] | None = None,
        *,
        n_estimators: int = 200,
        max_depth: int = 6,
        learning_rate: float = 0.1,
        min_child_weight: float = 1.0,
        linear_weight: float = 0.5,
        blend: str = "arithmetic",
        linear_c: float = 1.0,
        calibration_fraction: float = 0.15,
        random_state: int = 0,
        n_jobs: int = 2,
    ) -> None:
        self.columns = columns
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.min_child_weight = min_child_weight
        self.linear_weight = linear_weight
        self.blend = blend
        self.linear_c = linear_c
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Sequence[Any]) -> FieldClassifier:
        """Learn category vocabularies, a temperature on a held-out fold, then the model."""
        _check_fraction(type(self).__name__, self.calibration_fraction)
        if not 0.0 <= self.linear_weight <= 1.0:
            raise ValueError("The 'linear_weight' parameter of FieldClassifier must be in "
                             f"[0, 1]. Got {self.linear_weight!r} instead.")
        if self.blend not in BLENDS:
            raise ValueError(f"The 'blend' parameter of FieldClassifier must be one of "
                             f"{BLENDS}. Got {self.blend!r} instead.")
        frame, y_idx = self.learn_encoding(X, y)
        inner, held = calibration_split(y_idx, self.calibration_fraction, self.random_state)
        probe = self.fit_members(frame.iloc[inner], y_idx[inner])
        trees, linear = self.member_logits(probe, frame.iloc[held])
        self.temperature_ = fit_temperature(
            blend_logits(trees, linear, self.linear_weight, self.blend), y_idx[held])
        self.model_, self.seen_classes_, self.linear_ = self.fit_members(frame, y_idx)
        self.n_features_in_ = len(self.columns_)
        return self

    def learn_encoding(self, X: Any, y: Sequence[Any]) -> tuple[Any, IntArray]:
        """Learn columns, category vocabularies and classes; return X as a categorical frame
        and y as class indices (the first step of :meth:`fit`)."""
        self.columns_ = list(self.columns) if self.columns is not None else list(X.columns)
        self.categories_ = {c: sorted(X[c].astype(str).unique()) for c in self.columns_}
        self.label_encoder_ = LabelEncoder().fit(list(y))
        self.classes_ = self.label_encoder_.classes_
        return self._frame(X), np.asarray(self.label_encoder_.transform(list(y)), dtype=np.intp)

    def fit_members(self, frame: Any, y_idx: IntArray) -> tuple[Any, IntArray, Any]:
        """The booster, the classes it saw, and the linear model (None at weight 0), fitted
        on ``frame`` (from :meth:`learn_encoding`); public so that a bench can fit the members once
        and score several blends on its dev split."""
        model, seen = self._fit_booster(frame, y_idx)
        linear = self._fit_linear(frame, y_idx) if self.linear_weight > 0.0 else None
        return model, seen, linear

    def member_logits(self, members: tuple[Any, IntArray, Any],
                      frame: Any) -> tuple[FloatArray, FloatArray | None]:
        """Each member's uncalibrated logits over all ``classes_`` (None: no linear member)."""
        model, seen, linear = members
        n = len(self.classes_)
        trees = _full_logits(self._margins(model, frame), seen, n)
        if linear is None:
            return trees, None
        return trees, _full_logits(linear.predict_log_proba(self._one_hot(frame)),
                                   np.asarray(linear.classes_, dtype=np.intp), n)

    def _fit_linear(self, frame: Any, y_idx: IntArray) -> Any:
        from sklearn.linear_model import LogisticRegression

        if len(np.unique(y_idx)) < 2:
            return None
        return LogisticRegression(C=self.linear_c, max_iter=1000).fit(self._one_hot(frame),
                                                                      y_idx)

    def _one_hot(self, frame: Any) -> csr_matrix:
        """One column per known value of each field, from the frame's category codes."""
        blocks = []
        for c in self.columns_:
            codes = np.asarray(frame[c].cat.codes, dtype=np.int64)
            width = len(self.categories_[c])
            rows = np.flatnonzero(codes >= 0)
            blocks.append(csr_matrix((np.ones(len(rows)), (rows, codes[rows])),
                                     shape=(len(codes), width)))
        return csr_matrix(hstack(blocks, format="csr")) if blocks else csr_matrix((0, 0))

    def _fit_booster(self, frame: Any, y_idx: IntArray) -> tuple[Any, IntArray]:
        from xgboost import XGBClassifier

        seen, dense = np.unique(y_idx, return_inverse=True)  # XGBoost wants labels 0..k-1
        model = XGBClassifier(
            n_estimators=self.n_estimators, max_depth=self.max_depth,
            learning_rate=self.learning_rate, min_child_weight=self.min_child_weight,
            tree_method="hist", enable_categorical=True, max_cat_to_onehot=1,
            random_state=self.random_state, n_jobs=self.n_jobs,
        )
        model.fit(frame, dense)
        return model, np.asarray(seen, dtype=np.intp)

    @staticmethod
    def _margins(model: Any, frame: Any) -> FloatArray:
        proba = np.asarray(model.predict_proba(frame), dtype=np.float64)
        return np.log(np.clip(proba, 1e-12, None))

    def _frame(self, X: Any) -> Any:
        import pandas as pd

        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise ValueError(f"FieldClassifier needs columns {missing} that X lacks; "
                             f"X has {list(X.columns)}.")
        return pd.DataFrame({
            c: pd.Categorical(X[c].astype(str), categories=self.categories_[c])
            for c in self.columns_
        })

    def predict_proba(self, X: Any) -> FloatArray:
        """Calibrated probabilities over ``classes_``."""
        check_is_fitted(self, "model_")
        linear = getattr(self, "linear_", None)  # a model saved before the blend has none
        trees, lin = self.member_logits((self.model_, self.seen_classes_, linear),
                                        self._frame(X))
        if lin is None:
            return softmax(trees, self.temperature_)
        return softmax(blend_logits(trees, lin, self.linear_weight, self.blend),
                       self.temperature_)

    def predict(self, X: Any) -> npt.NDArray[Any]:
        """Most probable assignment group per row."""
        return np.asarray(self.classes_[np.argmax(self.predict_proba(X), axis=1)])


class EmbeddingMLPClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A small PyTorch MLP over sentence embeddings, temperature-calibrated like the others.

    The PyTorch member of the family: one hidden layer with dropout, AdamW, full-batch
    epochs over shuffled mini-batches, seeded so two fits give the same model.
    """

    def __init__(
        self,
        encoder: Encoder | None = None,
        *,
        hidden: int = 512,
        epochs: int = 40,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        dropout: float = 0.2,
        batch_size: int = 64,
        calibration_fraction: float = 0.15,
        random_state: int = 0,
    ) -> None:
        self.encoder = encoder
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.batch_size = batch_size
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state

    def fit(self, X: Sequence[str], y: Sequence[Any]) -> EmbeddingMLPClassifier:
        """Train on an inner split, fit the temperature on the rest, retrain on all rows."""
        _check_fraction(type(self).__name__, self.calibration_fraction)
        if self.encoder is None:
            raise ValueError("EmbeddingMLPClassifier needs an 'encoder'; pass an Encoder.")
        emb = encode_by_kind(self.encoder, _as_texts(X))
        self.label_encoder_ = LabelEncoder().fit(list(y))
        self.classes_ = self.label_encoder_.classes_
        y_idx = np.asarray(self.label_encoder_.transform(list(y)), dtype=np.intp)
        inner, held = calibration_split(y_idx, self.calibration_fraction, self.random_state)
        probe = self._train(emb[inner], y_idx[inner])
        self.temperature_ = fit_temperature(self._logits(probe, emb[held]), y_idx[held])
        self.model_ = self._train(emb, y_idx)
        return self

    def _train(self, emb: npt.NDArray[np.float32], y_idx: IntArray) -> Any:
        import torch

        gen = torch.Generator().manual_seed(self.random_state)
        torch.manual_seed(self.random_state)
        net = torch.nn.Sequential(
            torch.nn.Linear(emb.shape[1], self.hidden), torch.nn.GELU(),
            torch.nn.Dropout(self.dropout), torch.nn.Linear(self.hidden, len(self.classes_)),
        )
        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        xs, ys = torch.from_numpy(np.ascontiguousarray(emb)), torch.from_numpy(y_idx.astype(np.int64))
        net.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(xs), generator=gen)
            for batch in order.split(self.batch_size):  # type: ignore[no-untyped-call]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(net(xs[batch]), ys[batch])
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
        return net.eval()

    @staticmethod
    def _logits(net: Any, emb: npt.NDArray[np.float32]) -> FloatArray:
        import torch

        with torch.inference_mode():
            return np.asarray(net(torch.from_numpy(np.ascontiguousarray(emb))).numpy(),
                              dtype=np.float64)

    def decision_function(self, X: Sequence[str]) -> FloatArray:
        """Uncalibrated logits."""
        check_is_fitted(self, "model_")
        assert self.encoder is not None
        return self._logits(self.model_, encode_by_kind(self.encoder, _as_texts(X)))

    def predict_proba(self, X: Sequence[str]) -> FloatArray:
        """Calibrated class probabilities, columns in ``classes_`` order."""
        return softmax(self.decision_function(X), self.temperature_)

    def predict(self, X: Sequence[str]) -> npt.NDArray[Any]:
        """Most probable label per text."""
        return np.asarray(self.classes_[np.argmax(self.decision_function(X), axis=1)])
