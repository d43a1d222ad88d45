"""Text settings for titled, long tickets: the subject-line block, n-grams from the head of
long bodies, and the per-data-set choice between them on the validation part."""

from __future__ import annotations

import random

import numpy as np
import pytest

from supportops.ml.estimators import TextClassifier, first_line
from supportops.triage.model import TEXT_CANDIDATES, TriageModel, applicable, setting_name

LABELS = {"bug": "crash error broken fails", "feature": "add support option request",
          "question": "how can why docs"}
NOISE = ["stack", "trace", "line", "frame", "module", "value", "token", "buffer",
         "render", "widget", "layout"]


def titled_tickets(n_per_class: int = 30, seed: int = 3) -> tuple[list[str], list[str]]:
    """Tickets whose title names the type and whose long body is shared noise."""
    rng = random.Random(seed)
    texts, labels = [], []
    for label, words in LABELS.items():
        for _ in range(n_per_class):
            title = " ".join(rng.sample(words.split(), 2))
            body = " ".join(rng.choice(NOISE) for _ in range(300))  # ~2,000 characters
            texts.append(f"{title}\n{body}")
            labels.append(label)
    return texts, labels


def test_first_line_is_the_subject_line_only_when_there_is_a_body() -> None:
    assert first_line("Crash on start\nit fails") == "Crash on start"
    assert first_line("where is my card") == ""  # one line: a body, no subject line


def test_max_chars_reads_ngrams_from_the_head_only() -> None:
    texts, labels = titled_tickets()
    texts = [t + " zebraword" for t in texts]  # after character 1000 in every text
    head = TextClassifier(None, max_chars=1000, min_subjects=1).fit(texts, labels)
    whole = TextClassifier(None, min_subjects=1).fit(texts, labels)
    assert "zebraword" not in head.word_vectorizer_.vocabulary_
    assert "zebraword" in whole.word_vectorizer_.vocabulary_


def test_title_blocks_add_the_subject_line_features() -> None:
    texts, labels = titled_tickets()
    plain = TextClassifier(None).fit(texts, labels)
    titled = TextClassifier(None, title_weight=0.5).fit(texts, labels)
    assert plain.title_vectorizers_ is None
    assert titled.title_vectorizers_ is not None
    words = titled.title_vectorizers_[0].vocabulary_
    assert "crash" in words and "stack" not in words  # titles only, never the body
    assert titled._features(texts[:2]).shape[1] > plain._features(texts[:2]).shape[1]
    assert (titled.predict(texts) == np.asarray(labels)).mean() > 0.9


@pytest.mark.parametrize("option", ["title_weight", "title_embedding_weight", "max_chars"])
def test_bad_text_options_are_refused_by_name(option: str) -> None:
    texts, labels = titled_tickets(5)
    with pytest.raises(ValueError, match=option):
        TextClassifier(None).set_params(**{option: -1}).fit(texts, labels)


def test_settings_apply_only_where_they_can_change_something() -> None:
    titled, _ = titled_tickets(5)
    short = ["where is my card", "my transfer failed"] * 10
    assert all(applicable(c, titled) for c in TEXT_CANDIDATES)
    assert [c for c in TEXT_CANDIDATES if applicable(c, short)] == [{}]
    assert setting_name({}) == "defaults"
    assert setting_name({"max_chars": 1000}) == "max_chars=1000"


def test_model_keeps_the_most_accurate_setting_on_its_validation_part() -> None:
    texts, labels = titled_tickets()
    rows = [{"text": t, "subject": f"s{i}"} for i, t in enumerate(texts)]
    model = TriageModel("text", None, refit=False).fit(rows, labels)
    # without an encoder the embedding options fall away: three distinct settings remain
    assert set(model.selection_) == {"defaults", "title_weight=0.5", "max_chars=1000"}
    assert model.selection_[model.text_setting_] == max(model.selection_.values())
    chosen = {k: v for k, v in model.classifier_.get_params().items()
              if k in ("title_weight", "max_chars") and v not in (0.0, None)}
    assert setting_name(chosen) == model.text_setting_


def test_one_line_texts_train_one_setting_only() -> None:
    rows = [{"text": f"{w} my card please {i}", "subject": f"s{i}"}
            for i, w in enumerate(["lost", "stolen", "late"] * 12)]
    labels = ["lost", "stolen", "late"] * 12
    model = TriageModel("text", None).fit(rows, labels)
    assert list(model.selection_) == ["defaults"]
    assert model.text_setting_ == "defaults"
    texts, labels = titled_tickets(20)
    fixed = TriageModel("text", None, select=False).fit(
        [{"text": t, "subject": f"s{i}"} for i, t in enumerate(texts)], labels)
    assert list(fixed.selection_) == ["defaults"]
