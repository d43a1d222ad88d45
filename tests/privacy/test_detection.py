"""PII detection: real-world shapes of each type with offsets, clean texts, the JSON-lines
contract, robustness, and a generalisation check on the independent dev set."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportops.privacy.detection import PiiDetector, PiiInputError, detect_jsonl

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector()


CASES = [
    # e-mail on public, private and reserved domains
    ("Please reply to jane.doe@example.com today.", "jane.doe@example.com", "EMAIL_ADDRESS"),
    ("Write to jane.doe@acme.internal for access.", "jane.doe@acme.internal", "EMAIL_ADDRESS"),
    ("cc bob@corp.local on the ticket", "bob@corp.local", "EMAIL_ADDRESS"),
    ("Owner: quentin.zebrowski@zq771.test", "quentin.zebrowski@zq771.test", "EMAIL_ADDRESS"),
    # phone numbers, international and national formats of several countries
    ("Call me on (415) 555-0132 after 5pm.", "(415) 555-0132", "PHONE_NUMBER"),
    ("Ring +44 20 7946 0958 any time.", "+44 20 7946 0958", "PHONE_NUMBER"),
    ("Call me on +49 30 901820 tomorrow.", "+49 30 901820", "PHONE_NUMBER"),
    ("Mon numéro: 06 12 34 56 78", "06 12 34 56 78", "PHONE_NUMBER"),
    ("Office line (02) 9374 4000, ask for billing.", "(02) 9374 4000", "PHONE_NUMBER"),
    ("WhatsApp +91 98765 43210 please", "+91 98765 43210", "PHONE_NUMBER"),
    ("Celular +55 11 98765-4321", "+55 11 98765-4321", "PHONE_NUMBER"),
    ("Mobile 08-123 456 78", "08-123 456 78", "PHONE_NUMBER"),
    # street addresses of several countries (one LOCATION span per address)
    ("Send it to 742 Evergreen Terrace, Springfield, OR 97403 please.",
     "742 Evergreen Terrace, Springfield, OR 97403", "LOCATION"),
    ("Post it to 221B Baker Street, London NW1 6XE.", "221B Baker Street, London NW1 6XE",
     "LOCATION"),
    ("Please ship to Hauptstraße 12, 10115 Berlin.", "Hauptstraße 12, 10115 Berlin", "LOCATION"),
    ("New address: 12, rue de la Paix, 75002 Paris", "12, rue de la Paix, 75002 Paris",
     "LOCATION"),
    ("Send it to Via Roma 15, 00184 Roma please.", "Via Roma 15, 00184 Roma", "LOCATION"),
    ("I moved to Calle Mayor 5, 28013 Madrid last week.", "Calle Mayor 5, 28013 Madrid",
     "LOCATION"),
    ("Deliver to ul. Długa 5, 90-457 Łódź.", "ul. Długa 5, 90-457 Łódź", "LOCATION"),
    ("Kerkstraat 12, 1017 GC Amsterdam is my home.", "Kerkstraat 12, 1017 GC Amsterdam",
     "LOCATION"),
    ("My address is Rua das Flores, 123, 01001-000 São Paulo.",
     "Rua das Flores, 123, 01001-000 São Paulo", "LOCATION"),
    # names, with non-ASCII letters and titles
    ("Hi, my name is Laura Whitfield and my parcel is late.", "Laura Whitfield", "PERSON"),
    ("Thanks,\nSøren Kierkegård", "Søren Kierkegård", "PERSON"),
    ("Regards, Dr. Ana María Ruiz", "Dr. Ana María Ruiz", "PERSON"),
    # payment and network identifiers
    ("I was charged twice on card 4111 1111 1111 1111.", "4111 1111 1111 1111", "CREDIT_CARD"),
    ("Refund to IBAN DE89 3704 0044 0532 0130 00 please.", "DE89 3704 0044 0532 0130 00",
     "IBAN_CODE"),
    ("Refund to FR1420041010050500013M02606.", "FR1420041010050500013M02606", "IBAN_CODE"),
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


CLEAN = [
    "Order #48213 shipped on 2024-05-01.",
    "Version 4.2.1 of the Acme app crashes on export.",
    "Please reset my password, the link in the email expired.",
    "I was charged twice for the same transaction yesterday.",
    "The VPN drops every 10 minutes since the update to build 22621.",
    "Error 0x80070005 when installing KB5034441.",
    "Upgrade from Ubuntu 22.04 to 24.04 breaks Python 3.12 venvs.",
    "My invoice 2023-118 shows 1,299.00 EUR instead of 999.00 EUR.",
    "The printer on floor 3, room 12 is jammed again.",
    "Ticket INC0012345 was closed without a fix.",
    "Use port 8080 on 10 workers with 16 GB each.",
    "Transaction 4829 3381 failed twice.",
    "Call (415) area support if the Zenith X200 fails.",
    "Send via Email 5 times and nothing arrives.",
]


def test_texts_without_pii_stay_clean(detector: PiiDetector) -> None:
    for text, spans in zip(CLEAN, detector.detect_batch(CLEAN), strict=True):
        assert spans == [], (text, spans)


def test_non_birth_dates_are_not_reported(detector: PiiDetector) -> None:
    assert detector.detect("Our subscription renews on 03/12/2026.") == []


def test_batch_equals_single_and_handles_empty(detector: PiiDetector) -> None:
    texts = ["", "   ", "mail me: bob@example.org", "no pii here at all"]
    batch = detector.detect_batch(texts)
    assert batch == [detector.detect(t) for t in texts]
    assert batch[0] == [] and batch[1] == []


SHARED = ROOT.parent / "shared" / "data"


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/data (the public data sets)")
def test_independent_dev_set_recall(detector: PiiDetector) -> None:
    """Real ticket sentences with Faker entities in many locales: most tokens are found."""
    sys.path.insert(0, str(ROOT / "bench"))
    from pii_data import make_split, token_recall

    examples = make_split("dev", 80, 0, seed=7)
    preds = detector.detect_batch([e.text for e in examples])
    assert token_recall(examples, preds) > 0.85


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
