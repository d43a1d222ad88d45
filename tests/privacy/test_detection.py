"""PII detection: each type with offsets, hard negatives, the JSON-lines contract, robustness."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportops.privacy.detection import PiiDetector, PiiInputError, detect_jsonl
from tests.pii_fixtures import FAMILY, hard_negatives, make_examples


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector()


CASES = [
    ("Please reply to jane.doe@example.com today.", "jane.doe@example.com", "EMAIL_ADDRESS"),
    ("Call me on (415) 555-0132 after 5pm.", "(415) 555-0132", "PHONE_NUMBER"),
    ("Ring +44 20 7946 0958 any time.", "+44 20 7946 0958", "PHONE_NUMBER"),
    ("Hi, my name is Laura Whitfield and my parcel is late.", "Laura Whitfield", "PERSON"),
    ("Send it to 742 Evergreen Terrace, Springfield, OR 97403 please.",
     "742 Evergreen Terrace, Springfield, OR 97403", "LOCATION"),
    ("I was charged twice on card 4111 1111 1111 1111.", "4111 1111 1111 1111", "CREDIT_CARD"),
    ("Refund to IBAN DE89 3704 0044 0532 0130 00 please.", "DE89 3704 0044 0532 0130 00",
     "IBAN_CODE"),
    ("My account number is 20417733, routing as before.", "20417733", "US_BANK_NUMBER"),
    ("Blocked logins from 203.0.113.54 overnight.", "203.0.113.54", "IP_ADDRESS"),
    ("My SSN is 536-22-8710 for the tax form.", "536-22-8710", "US_SSN"),
    ("I was born on 12/03/1985 so I qualify.", "12/03/1985", "DATE_OF_BIRTH"),
    ("DOB: 1985-03-12", "1985-03-12", "DATE_OF_BIRTH"),
    ("My profile is https://example.com/users/jsmith now.", "https://example.com/users/jsmith",
     "URL"),
]


@pytest.mark.parametrize(("text", "value", "kind"), CASES)
def test_each_type_found_with_offsets(detector: PiiDetector, text: str, value: str,
                                      kind: str) -> None:
    start = text.index(value)
    found = [(s.start, s.end, s.type) for s in detector.detect(text)]
    assert (start, start + len(value), kind) in found, found


def test_hard_negatives_have_no_spans(detector: PiiDetector) -> None:
    texts = [*hard_negatives(seed=3, n=40), "Order #48213 shipped on 2024-05-01.",
             "Version 4.2.1 of the Acme app crashes on export."]
    for text, spans in zip(texts, detector.detect_batch(texts), strict=True):
        assert spans == [], text


def test_non_birth_dates_are_not_reported(detector: PiiDetector) -> None:
    assert detector.detect("Our subscription renews on 03/12/2026.") == []


def test_batch_equals_single_and_handles_empty(detector: PiiDetector) -> None:
    texts = ["", "   ", "mail me: bob@example.org", "no pii here at all"]
    batch = detector.detect_batch(texts)
    assert batch == [detector.detect(t) for t in texts]
    assert batch[0] == [] and batch[1] == []


def test_generated_examples_are_mostly_found(detector: PiiDetector) -> None:
    examples = make_examples(60, seed=99, split="test")
    preds = detector.detect_batch([e.text for e in examples])
    gold = [g for e in examples for g in e.spans]
    hit = sum(any(FAMILY.get(p.type) == FAMILY[g.type] and p.start < g.end and g.start < p.end
                  for p in spans) for e, spans in zip(examples, preds, strict=True)
              for g in e.spans)
    assert hit / len(gold) > 0.9


def test_jsonl_contract(detector: PiiDetector) -> None:
    lines = [json.dumps({"id": 7, "text": "write to ann@example.com"}), "",
             json.dumps({"id": "t-2", "text": "nothing here"}),
             json.dumps({"id": None, "text": "Привет 😀 ann@example.com"})]
    out = list(detect_jsonl(lines, detector))
    assert [o["id"] for o in out] == [7, "t-2", None]
    assert out[0] == {"id": 7, "spans": [{"start": 9, "end": 24, "type": "EMAIL_ADDRESS",
                                           "score": out[0]["spans"][0]["score"]}]}
    assert isinstance(out[0]["spans"][0]["score"], float)
    assert out[1] == {"id": "t-2", "spans": []}
    span = out[2]["spans"][0]
    assert "Привет 😀 ann@example.com"[span["start"]:span["end"]] == "ann@example.com"
    json.dumps(out)


@pytest.mark.parametrize(("bad", "why"), [("{not json", "not valid JSON"), ("[1]", "object"),
                                          ('{"text": "x"}', "'id'"), ('{"id": 1}', "'text'")])
def test_jsonl_bad_line_names_line_number(detector: PiiDetector, bad: str, why: str) -> None:
    lines = [json.dumps({"id": 1, "text": "a@b.com"}), bad]
    results = []
    with pytest.raises(ValueError, match=f"Line 2: .*{why}") as info:
        results.extend(detect_jsonl(lines, detector))
    assert isinstance(info.value, PiiInputError)
    assert [r["id"] for r in results] == [1]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=120), min_size=1, max_size=4))
def test_arbitrary_text_never_crashes(detector: PiiDetector, texts: list[str]) -> None:
    for text, spans in zip(texts, detector.detect_batch(texts), strict=True):
        ordered = sorted(spans, key=lambda s: s.start)
        for a, b in itertools.pairwise(ordered):
            assert a.end <= b.start
        assert all(0 <= s.start < s.end <= len(text) and 0 <= s.score <= 1 for s in spans)


def test_threshold_is_validated() -> None:
    with pytest.raises(ValueError, match="score_threshold"):
        PiiDetector(score_threshold=1.5)


def test_builds_and_detects_without_network(tmp_path: object) -> None:
    """No network and an empty HOME: engines build and e-mail validation still works."""
    code = ("import socket\n"
            "def no(*a, **k): raise OSError('network disabled in test')\n"
            "socket.socket.connect = no; socket.create_connection = no\n"
            "from supportops.privacy.detection import PiiDetector\n"
            "s = PiiDetector().detect('mail ann@example.co.uk')\n"
            "assert [x.type for x in s] == ['EMAIL_ADDRESS'], s\n")
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
