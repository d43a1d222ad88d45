"""Labelled, synthetic support-ticket texts for testing and benchmarking PII detection.

Everything is generated with a seeded Faker (no real people). Each template is tagged
``dev`` or ``test`` (every third template is ``test``): tune on ``split="dev"`` and
report on ``split="test"`` with a fresh seed, so that reported figures come from
sentence shapes the detector was not iterated on.

Type families decide what counts as a match (``FAMILY``): e.g. an ``IBAN_CODE``
prediction matches a gold bank-account span, any national-id type matches a gold
``US_SSN``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from faker import Faker

FAMILY: dict[str, str] = {
    "EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "PERSON": "person",
    "LOCATION": "location", "STREET_ADDRESS": "location", "CREDIT_CARD": "card",
    "IBAN_CODE": "bank", "US_BANK_NUMBER": "bank", "IP_ADDRESS": "ip", "URL": "url",
    "US_SSN": "national_id", "UK_NHS": "national_id", "UK_NINO": "national_id",
    "US_ITIN": "national_id", "US_PASSPORT": "national_id",
    "US_DRIVER_LICENSE": "national_id", "DATE_OF_BIRTH": "dob",
}


@dataclass(frozen=True)
class GoldSpan:
    start: int
    end: int
    type: str


@dataclass(frozen=True)
class Example:
    text: str
    spans: tuple[GoldSpan, ...]


Piece = str | tuple[str, str]  # literal text, or (entity type, value)


class _Values:
    """Value generators over seeded Faker instances."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.us, self.gb = Faker("en_US"), Faker("en_GB")
        self.eu = [Faker(loc) for loc in ("de_DE", "fr_FR", "nl_NL", "es_ES", "en_GB")]
        for i, fake in enumerate([self.us, self.gb, *self.eu]):
            fake.seed_instance(seed * 31 + i)

    def name(self) -> str:
        fake = self.us if self.rng.random() < 0.7 else self.gb
        return fake.name() if self.rng.random() < 0.6 else f"{fake.first_name()} {fake.last_name()}"

    def email(self) -> str:
        return self.us.email() if self.rng.random() < 0.5 else self.us.company_email()

    def phone(self) -> str:
        return (self.us if self.rng.random() < 0.7 else self.gb).phone_number()

    def address(self) -> str:
        if self.rng.random() < 0.75:
            return self.us.address().replace("\n", ", ")
        g = self.gb
        return f"{g.building_number()} {g.street_name()}, {g.city()}, {g.postcode()}"

    def card(self) -> str:
        number = self.us.credit_card_number()
        if len(number) == 16 and self.rng.random() < 0.5:
            sep = self.rng.choice([" ", "-"])
            number = sep.join(number[i:i + 4] for i in range(0, 16, 4))
        return number

    def iban(self) -> str:
        iban = self.rng.choice(self.eu).iban()
        if self.rng.random() < 0.5:
            iban = " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
        return iban

    def account(self) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(self.rng.randint(8, 12)))

    def ip(self) -> str:
        r = self.rng.random()
        if r < 0.45:
            return self.us.ipv4_public()
        return self.us.ipv4_private() if r < 0.8 else self.us.ipv6()

    def ssn(self) -> str:
        return self.us.ssn()

    def nhs(self) -> str:
        while True:
            digits = [self.rng.randint(0, 9) for _ in range(9)]
            check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
            if check == 11:
                check = 0
            if check != 10:
                s = "".join(map(str, digits)) + str(check)
                return f"{s[:3]} {s[3:6]} {s[6:]}"

    def dob(self) -> str:
        d = self.us.date_of_birth(minimum_age=18, maximum_age=90)
        fmt = self.rng.choice(["%m/%d/%Y", "%d/%m/%Y", "%Y-%m-%d", "%B %d, %Y", "%d %B %Y",
                               "%b %d %Y", "%d.%m.%Y"])
        return d.strftime(fmt)

    def date(self) -> str:
        d = self.us.date_between(start_date="-3y", end_date="today")
        return d.strftime(self.rng.choice(["%m/%d/%Y", "%Y-%m-%d", "%B %d, %Y", "%d %b %Y"]))

    def url(self) -> str:
        user = self.us.user_name()
        host = self.rng.choice([self.us.domain_name(), "github.com", "www.linkedin.com",
                                "example.org", f"app.{self.us.domain_name()}"])
        path = self.rng.choice(["users/{u}", "profile/{u}", "~{u}", "in/{u}", "u/{u}/settings",
                                "account/{u}/orders", "{u}"]).format(u=user)
        scheme = self.rng.choice(["https://", "https://", "http://", ""])
        return f"{scheme}{host}/{path}"


T = Callable[[_Values], list[Piece]]

_POSITIVE: list[T] = [
    lambda v: ["Please send the invoice to ", ("EMAIL_ADDRESS", v.email()), " instead."],
    lambda v: ["My email is ", ("EMAIL_ADDRESS", v.email()), ", I never got the reset link."],
    lambda v: [("EMAIL_ADDRESS", v.email()), " is the address on the account."],
    lambda v: ["You can call me back on ", ("PHONE_NUMBER", v.phone()), " after 5pm."],
    lambda v: ["Phone: ", ("PHONE_NUMBER", v.phone())],
    lambda v: ["I tried ringing ", ("PHONE_NUMBER", v.phone()), " but nobody picked up."],
    lambda v: ["Hi, my name is ", ("PERSON", v.name()), " and my order never arrived."],
    lambda v: [("PERSON", v.name()), " called yesterday about the outage."],
    lambda v: ["Thanks for your help,\n", ("PERSON", v.name())],
    lambda v: ["Dear ", ("PERSON", v.name()), ", thank you for contacting us."],
    lambda v: ["I spoke with ", ("PERSON", v.name()), " on the phone last week."],
    lambda v: ["Please ask ", ("PERSON", v.name()), " to approve the refund."],
    lambda v: ["Ship the replacement to ", ("LOCATION", v.address()), "."],
    lambda v: ["My billing address is ", ("LOCATION", v.address())],
    lambda v: ["We moved to ", ("LOCATION", v.address()), " last month, please update it."],
    lambda v: ["I was charged twice on my card ", ("CREDIT_CARD", v.card()), "."],
    lambda v: ["Card number: ", ("CREDIT_CARD", v.card())],
    lambda v: ["Can you refund to ", ("CREDIT_CARD", v.card()), " please?"],
    lambda v: ["Please wire it to IBAN ", ("IBAN_CODE", v.iban()), "."],
    lambda v: ["Refund to ", ("IBAN_CODE", v.iban()), " would be great."],
    lambda v: ["My account number is ", ("US_BANK_NUMBER", v.account()), ", routing as before."],
    lambda v: ["Login attempts from ", ("IP_ADDRESS", v.ip()), " were blocked."],
    lambda v: ["My IP is ", ("IP_ADDRESS", v.ip())],
    lambda v: ["The VPN assigned ", ("IP_ADDRESS", v.ip()), " and then dropped."],
    lambda v: ["My SSN is ", ("US_SSN", v.ssn()), " for the tax form."],
    lambda v: ["social security number ", ("US_SSN", v.ssn()), " was rejected"],
    lambda v: ["NHS number ", ("UK_NHS", v.nhs()), " is on the prescription."],
    lambda v: ["I was born on ", ("DATE_OF_BIRTH", v.dob()), " so I qualify."],
    lambda v: ["DOB: ", ("DATE_OF_BIRTH", v.dob())],
    lambda v: ["My date of birth is ", ("DATE_OF_BIRTH", v.dob()), ", not what you have."],
    lambda v: ["See my profile at ", ("URL", v.url()), "."],
    lambda v: ["The link ", ("URL", v.url()), " shows someone else's data!"],
    lambda v: ["Portfolio: ", ("URL", v.url())],
]

_NEGATIVE: list[T] = [
    lambda v: [f"Order #{v.rng.randint(10000, 999999)} was shipped on {v.date()}."],
    lambda v: [f"The Acme ProBook {v.rng.randint(10, 20)} keeps crashing after the "
               f"update to version {v.rng.randint(1, 9)}.{v.rng.randint(0, 20)}."
               f"{v.rng.randint(0, 9)}."],
    lambda v: [f"Ticket SUP-{v.rng.randint(1000, 9999)} is still open after "
               f"{v.rng.randint(2, 30)} days."],
    lambda v: [f"Invoice INV-{v.rng.randint(2019, 2025)}-{v.rng.randint(100, 99999):05d} "
               f"totals ${v.rng.randint(10, 3000)}.{v.rng.randint(0, 99):02d}."],
    lambda v: [f"The Zenith X{v.rng.randint(100, 900)} router reboots every night at 2 AM."],
    lambda v: [f"Our subscription renews on {v.date()} and the price went up."],
    lambda v: ["The dashboard is very slow since the last release, please investigate."],
    lambda v: [f"Tracking number 1Z{v.rng.randint(10**9, 10**10 - 1)} shows delivered."],
    lambda v: [f"I ordered {v.rng.randint(2, 9)} units of the Model KX-{v.rng.randint(100, 999)} "
               "but only one came."],
    lambda v: [f"Error code 0x{v.rng.randint(4096, 65535):04X} appears when exporting to PDF."],
    lambda v: [f"We have had this issue since {v.date()}, it started after the migration."],
    lambda v: [f"Please escalate case {v.rng.randint(100000, 999999)} to tier 2."],
]


def _split(templates: list[T], split: str) -> list[T]:
    if split == "all":
        return templates
    want = 2 if split == "test" else None
    return [t for i, t in enumerate(templates) if (i % 3 == 2) == (want is not None)]


def _assemble(pieces: Sequence[Piece], text: str, spans: list[GoldSpan]) -> str:
    for piece in pieces:
        if isinstance(piece, str):
            text += piece
        else:
            kind, value = piece
            spans.append(GoldSpan(len(text), len(text) + len(value), kind))
            text += value
    return text


def make_examples(n: int, seed: int, *, split: str = "all",
                  negative_rate: float = 0.3) -> list[Example]:
    """``n`` tickets of 1-3 sentences; ``negative_rate`` of sentences carry no PII."""
    if split not in ("all", "dev", "test"):
        raise ValueError(f"split must be 'all', 'dev' or 'test'. Got {split!r} instead.")
    values = _Values(seed)
    positive, negative = _split(_POSITIVE, split), _split(_NEGATIVE, split)
    examples = []
    for _ in range(n):
        text, spans = "", list[GoldSpan]()
        for k in range(values.rng.choice((1, 1, 2, 3))):
            pool = negative if values.rng.random() < negative_rate else positive
            text = _assemble((["  ", " ", "\n"][values.rng.randint(0, 2)] if k else "",
                              *values.rng.choice(pool)(values)), text, spans)
        examples.append(Example(text, tuple(spans)))
    return examples


def hard_negatives(seed: int = 0, n: int = 50) -> list[str]:
    """Sentences with no PII at all (order numbers, non-birth dates, product names)."""
    values = _Values(seed)
    return ["".join(p for p in values.rng.choice(_NEGATIVE)(values) if isinstance(p, str))
            for _ in range(n)]
