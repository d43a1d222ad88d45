"""An independent PII dev/test set: real ticket sentences with Faker entities in 14+ locales.

Why this shape: the detector must hold up on text its authors did not write. The carrier
sentences are real customer / IT-support / issue-tracker text from ``../shared/data``
(Banking77, Bitext, Endava, NLBSE'24, StackFAQ); the entities come from Faker in each
locale's own formats (names, street addresses, phone numbers, IBANs...), e-mails include
private and reserved domains. Generated at run time, never committed.

Splits, so that the test part is never looked at while choosing settings:

- carrier sentences by a hash of their text (half dev, half test);
- the short frames that introduce an entity ("reach me on {PHONE}") by their index
  (even: dev, odd: test), and Bitext rows whose name/city we replace, by row id;
- Faker seeds differ per split, and four locales (de_AT, pt_PT, cs_CZ, fi_FI) appear in
  the test part only.

Clean texts (carriers alone, with no inserted entity) measure false positives. Gold spans
are recorded exactly, as ``(start, end, type)``; types: PERSON, STREET_ADDRESS, LOCATION
(a city), PHONE_NUMBER, EMAIL_ADDRESS, CREDIT_CARD, IBAN_CODE, IP_ADDRESS, US_SSN.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faker import Faker

csv.field_size_limit(1 << 24)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
LOCALES = ("en_US", "en_GB", "en_AU", "en_IN", "en_CA", "de_DE", "fr_FR", "es_ES", "it_IT",
           "nl_NL", "pt_BR", "pl_PL", "sv_SE", "da_DK")
TEST_ONLY_LOCALES = ("de_AT", "pt_PT", "cs_CZ", "fi_FI")
PRIVATE_TLDS = ("internal", "local", "test", "corp", "lan", "intranet", "example", "home.arpa")
DIRECT = frozenset({"PERSON", "STREET_ADDRESS", "PHONE_NUMBER", "EMAIL_ADDRESS", "CREDIT_CARD",
                    "IBAN_CODE", "IP_ADDRESS", "US_SSN"})

# Prediction / gold type -> family: a LOCATION prediction may cover a street or a city.
FAMILY = {"PERSON": "person", "LOCATION": "location", "STREET_ADDRESS": "location",
          "PHONE_NUMBER": "phone", "EMAIL_ADDRESS": "email", "CREDIT_CARD": "card",
          "IBAN_CODE": "iban", "IP_ADDRESS": "ip", "US_SSN": "ssn"}
TOKEN = re.compile(r"\w+")

# Frames introduce one or more entities. Index parity decides the split (even: dev).
FRAMES: tuple[str, ...] = (
    "My name is {PERSON}.",
    "{PERSON} here, from the finance team.",
    "Thanks, {PERSON}",
    "Kind regards,\n{PERSON}",
    "You can reach me on {PHONE}.",
    "Call me back at {PHONE} please.",
    "My number is {PHONE}",
    "tel: {PHONE}",
    "Please send the replacement to {ADDRESS}.",
    "I moved to {ADDRESS} last month.",
    "Shipping address: {ADDRESS}",
    "The parcel should go to {ADDRESS}, not the old place.",
    "Reply to {EMAIL} rather than this account.",
    "email me at {EMAIL}",
    "My work address is {EMAIL}, use that one.",
    "Contact: {EMAIL}",
    "{PERSON}\n{PHONE}",
    "{PERSON} | {EMAIL} | {PHONE}",
    "Best,\n{PERSON}\n{ADDRESS}",
    "Customer {PERSON} ({EMAIL}) called about this.",
    "The card ending is not enough, full number {CARD}.",
    "card no {CARD}",
    "Please refund to {IBAN}.",
    "IBAN {IBAN} is mine, the other one is closed.",
    "The login came from {IP}.",
    "Our gateway {IP} drops packets.",
    "SSN {SSN}",
    "My social security number is {SSN}.",
    "My colleague {PERSON} has the same problem.",
    "I spoke to {PERSON} yesterday and nothing happened.",
    "I live in {CITY} now.",
    "We have an office in {CITY}.",
    "Forwarding on behalf of {PERSON}.",
    "{PERSON} told me to open a ticket.",
    "Ring {PERSON} on {PHONE} if I'm out.",
    "Text {PHONE} when it ships",
    "Deliver to {PERSON}, {ADDRESS}.",
    "The invoice address is {ADDRESS} ({CITY} office).",
    "Send the contract to {EMAIL} and cc {PERSON}.",
    "my mobile {PHONE}",
    "Account holder: {PERSON}, IBAN {IBAN}",
    "{PERSON} ({PHONE})",
    "Please update my address to {ADDRESS}.",
    "old address was {ADDRESS}",
    "Assigned to {PERSON} in {CITY}.",
    "ping {EMAIL}",
    "Server {IP} and {IP} both fail.",
    "Is {EMAIL} still the right contact for {PERSON}?",
)
_SLOT = re.compile(r"\{([A-Z]+)\}")


@dataclass(frozen=True)
class Gold:
    start: int
    end: int
    type: str


@dataclass
class Example:
    text: str
    spans: list[Gold] = field(default_factory=list)
    locale: str = ""
    source: str = ""


# --------------------------------------------------------------------------- carriers


def _split_of(key: str) -> str:
    return "dev" if hashlib.sha1(key.encode()).digest()[0] % 2 == 0 else "test"


def _clip(text: str, limit: int = 240) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0]


def _rows(path: Path) -> Iterator[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:  # type: ignore[operator]
        yield from csv.DictReader(fh)


def carriers() -> Iterator[tuple[str, str]]:
    """(source, sentence) from the shared data sets; raises FileNotFoundError if absent."""
    for row in _rows(DATA / "banking77" / "train.csv"):
        yield "banking77", row["text"]
    for row in _rows(DATA / "bitext_customer_support" / "bitext_customer_support_train.csv"):
        if not row["entity_type"] or row["entity_type"] in ("account_type", "order_id",
                                                            "invoice_id", "refund_amount"):
            yield "bitext", row["instruction"]
    for row in _rows(DATA / "endava_it_tickets" / "endava_it_tickets_train.csv"):
        yield "endava", _clip(f"{row['title']} {row['body']}")
    for row in _rows(DATA / "nlbse24_issues" / "issues_train.csv"):
        yield "nlbse24", _clip(row["title"])
    with open(DATA / "stackfaq" / "stackfaq_queries_train.jsonl", encoding="utf-8") as fh:
        for line in fh:
            yield "stackfaq", json.loads(line)["query"]


def bitext_slots() -> Iterator[tuple[str, str, int, int, str]]:
    """Bitext rows whose annotated person / city we replace: (key, text, start, end, type)."""
    kinds = {"person_name": "PERSON", "delivery_city": "LOCATION"}
    for row in _rows(DATA / "bitext_customer_support" / "bitext_customer_support_train.csv"):
        if row["entity_type"] in kinds:
            start, end = int(row["start_offset"]), int(row["end_offset"])
            yield row["row_id"], row["instruction"], start, end, kinds[row["entity_type"]]


# --------------------------------------------------------------------------- values


class Values:
    """Entity values from one seeded Faker per locale."""

    def __init__(self, locales: tuple[str, ...], seed: int) -> None:
        self.rng = random.Random(seed)
        self.fakers = {loc: Faker(loc) for loc in locales}
        for i, fake in enumerate(self.fakers.values()):
            fake.seed_instance(seed * 101 + i)
        self.locale = locales[0]

    @property
    def fake(self) -> Faker:
        return self.fakers[self.locale]

    def value(self, kind: str) -> tuple[str, str]:
        """(gold type, value) for a frame slot."""
        return getattr(self, kind.lower())()  # type: ignore[no-any-return]

    def person(self) -> tuple[str, str]:
        r = self.rng.random()
        if r < 0.15:
            return "PERSON", self.fake.first_name()
        if r < 0.3:
            return "PERSON", self.fake.name()
        return "PERSON", f"{self.fake.first_name()} {self.fake.last_name()}"

    def address(self) -> tuple[str, str]:
        if self.rng.random() < 0.5:
            return "STREET_ADDRESS", self.fake.street_address()
        sep = self.rng.choice([", ", ", ", " ", "\n"])
        return "STREET_ADDRESS", re.sub(r"\s*\n\s*", sep, self.fake.address().strip())

    def city(self) -> tuple[str, str]:
        return "LOCATION", self.fake.city()

    def phone(self) -> tuple[str, str]:
        return "PHONE_NUMBER", self.fake.phone_number()

    def email(self) -> tuple[str, str]:
        r = self.rng.random()
        if r < 0.5:
            return "EMAIL_ADDRESS", self.fake.email()
        user = re.sub(r"[^a-z.]", "", self.fake.first_name().lower()) or "user"
        if r < 0.8:
            user = f"{user}.{re.sub(r'[^a-z]', '', self.fake.last_name().lower()) or 'x'}"
        host = re.sub(r"[^a-z0-9]", "", self.fake.word().lower()) or "corp"
        return "EMAIL_ADDRESS", f"{user}@{host}.{self.rng.choice(PRIVATE_TLDS)}"

    def card(self) -> tuple[str, str]:
        number = self.fake.credit_card_number()
        if self.rng.random() < 0.4 and len(number) == 16:
            number = " ".join(number[i:i + 4] for i in range(0, 16, 4))
        return "CREDIT_CARD", number

    def iban(self) -> tuple[str, str]:
        iban = self.fake.iban()
        if self.rng.random() < 0.4:
            iban = " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
        return "IBAN_CODE", iban

    def ip(self) -> tuple[str, str]:
        return "IP_ADDRESS", self.fake.ipv4() if self.rng.random() < 0.8 else self.fake.ipv6()

    def ssn(self) -> tuple[str, str]:
        return "US_SSN", self.fakers.get("en_US", self.fake).ssn()


# --------------------------------------------------------------------------- assembly


def _fill(frame: str, values: Values, text: str, spans: list[Gold]) -> str:
    """Append ``frame`` with its slots filled to ``text``, recording gold spans."""
    pos = 0
    for match in _SLOT.finditer(frame):
        text += frame[pos:match.start()]
        kind, value = values.value(match.group(1))
        value = value.strip()
        spans.append(Gold(len(text), len(text) + len(value), kind))
        text += value
        pos = match.end()
    return text + frame[pos:]


def compose(carrier: str, frames: list[str], values: Values) -> Example:
    """Carrier sentence with one or two filled frames before, after or around it."""
    spans: list[Gold] = []
    mode = values.rng.random()
    text = ""
    if mode < 0.25 or len(frames) > 1:
        text = _fill(frames[0], values, text, spans) + values.rng.choice([" ", "\n", " - "])
        frames = frames[1:]
    text += carrier
    for frame in frames:
        text = _fill(frame, values, text + values.rng.choice([" ", ". ", "\n", ", "]), spans)
    return Example(text, spans, values.locale)


def make_split(split: str, n: int, n_clean: int, seed: int = 0) -> list[Example]:
    """``n`` texts with PII and ``n_clean`` without, from the ``split`` part only."""
    rng = random.Random(f"{split}-{seed}")
    pool = [(src, t) for src, t in carriers() if t.strip() and _split_of(f"{src}:{t}") == split]
    frames = [f for i, f in enumerate(FRAMES) if (i % 2 == 0) == (split == "dev")]
    locales = LOCALES + (TEST_ONLY_LOCALES if split == "test" else ())
    values = Values(locales, seed * 2 + (split == "test"))
    slots = [s for s in bitext_slots() if _split_of(f"bitext-row:{s[0]}") == split]
    out = [_bitext_example(rng.choice(slots), values, rng) if rng.random() < 0.1
           else _frame_example(rng.choice(pool), frames, values, rng) for _ in range(n)]
    clean = [Example(t, [], "", src) for src, t in rng.sample(pool, n_clean)]
    return out + clean


def _frame_example(carrier: tuple[str, str], frames: list[str], values: Values,
                   rng: random.Random) -> Example:
    values.locale = rng.choice(list(values.fakers))
    chosen = rng.sample(frames, 2 if rng.random() < 0.3 else 1)
    example = compose(carrier[1], chosen, values)
    example.source = carrier[0]
    return example


def _bitext_example(slot: tuple[str, str, int, int, str], values: Values,
                    rng: random.Random) -> Example:
    """A real Bitext request whose annotated name / city is replaced by a Faker one."""
    values.locale = rng.choice(list(values.fakers))
    _, text, start, end, kind = slot
    value = values.person()[1] if kind == "PERSON" else values.city()[1]
    if text[start:end].startswith(("Mr. ", "Ms. ", "Mrs. ")):  # keep the title, as written
        value = text[start:text.index(" ", start) + 1] + values.fake.last_name()
    new = text[:start] + value + text[end:]
    return Example(new, [Gold(start, start + len(value), kind)], values.locale, "bitext-slot")


def tokens(text: str, start: int, end: int) -> set[int]:
    """Start offsets of the word tokens that overlap ``text[start:end]``."""
    return {m.start() for m in TOKEN.finditer(text) if m.start() < end and start < m.end()}


def token_recall(examples: Sequence[Example], preds: Sequence[Sequence[Any]]) -> float:
    """Share of direct-identifier gold tokens covered by a same-family prediction."""
    hit = total = 0
    for ex, spans in zip(examples, preds, strict=True):
        for g in ex.spans:
            if g.type not in DIRECT:
                continue
            gold = tokens(ex.text, g.start, g.end)
            covered = set().union(*(tokens(ex.text, p.start, p.end) for p in spans
                                    if FAMILY.get(p.type) == FAMILY[g.type]))
            hit, total = hit + len(gold & covered), total + len(gold)
    return hit / total if total else 1.0


if __name__ == "__main__":
    for ex in make_split("dev", 12, 3, seed=1):
        print(repr(ex.text), [(ex.text[g.start:g.end], g.type) for g in ex.spans], ex.locale)
