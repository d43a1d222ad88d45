"""Phone numbers in many countries' formats, validated with libphonenumber.

Why this shape: Presidio's ``PhoneRecognizer`` runs libphonenumber's matcher once per
region over every text, which is slow and, with few regions, misses national formats
("(08063) 60837", "06 12 34 56 78", "08-778 353 37"). Here one cheap regular
expression finds phone-shaped candidates (digit groups with the separators people use),
and libphonenumber decides, as its ``Leniency.VALID`` / ``POSSIBLE`` matcher levels do:

- ``+CC`` / ``00CC`` numbers parse without a region hint;
- national numbers are tried against region hints (the tenant's first, then a broad
  default list); a number valid in some region scores high, one only of possible length
  scores lower;
- without a phone cue ("call", "mobile", "tel") a national number needs 9+ digits or a
  trunk prefix / area-code parentheses (most 8-digit runs are valid somewhere), and an
  unseparated run must also be valid and start with a trunk prefix, since order and
  account numbers look the same;
- dates, SSN-shaped and IP-shaped runs are never phones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import phonenumbers
from presidio_analyzer import EntityRecognizer, RecognizerResult

DEFAULT_REGIONS = (
    "US", "GB", "CA", "AU", "IN", "DE", "FR", "ES", "IT", "NL", "BR", "PL", "SE", "DK",
    "NO", "FI", "AT", "CH", "BE", "PT", "IE", "NZ", "ZA", "MX", "AR", "CZ", "JP", "SG",
)
_SEP = r"[ \t.\-/]"
_CANDIDATE = re.compile(
    r"(?<![\w@/.+\-#€$£])"
    r"(?P<span>(?:\(\+?\d{1,4}\)|\+\s?\d{1,4}|00\d{1,4})?" + _SEP + r"?"
    r"(?:\(0\)\s?)?(?:\(\d{1,5}\)|\d{1,6})"
    r"(?:" + _SEP + r"{0,2}(?:\(0\)|\(\d{1,5}\)|\d{1,8})){1,6}"
    r"(?:\s{0,2}(?:x|ext\.?|extension|ext\s*:)\s{0,2}\d{1,6})?)"
    r"(?![\w\-/]|[.,]\d)",
    re.IGNORECASE,
)
_EXTENSION = re.compile(r"\s*(?:x|ext\.?|extension|ext\s*:)\s*\d+$", re.IGNORECASE)
_NOT_PHONE = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})"  # dates
    r"|\d{3}-\d{2}-\d{4}"  # SSN shape
    r"|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"  # IPv4
    r"|\d{1,2}\.\d{1,2}(?:\.\d{1,4})?"  # versions
)
_CUE = re.compile(
    r"(?i)\b(?:phone|tel|telephone|mobile|mob|cell|call|calls|called|ring|text|sms|whatsapp|"
    r"fax|dial|reach|my\s+number|hotline|landline|tlf|telefon|telefono|téléphone)\b"
    r"[^.!?\n\d]{0,20}$"
)


@lru_cache(maxsize=8192)
def _judge(core: str, regions: tuple[str, ...]) -> tuple[bool, bool]:
    """(valid in some region, possible in some region) for one candidate."""
    international = core.lstrip("(").startswith(("+", "00"))
    text = "+" + core.lstrip("(")[2:] if core.lstrip("(").startswith("00") else core
    possible = False
    for region in (None,) if international else regions:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True, True
        possible = possible or phonenumbers.is_possible_number(number)
    return False, possible


def phone_score(text: str, start: int, end: int, regions: tuple[str, ...]) -> float | None:
    """A score for ``text[start:end]`` as a phone number, or None if it is not one."""
    value = text[start:end]
    core = _EXTENSION.sub("", value)
    digits = re.sub(r"\D", "", core)
    if not 7 <= len(digits) <= 15 or _NOT_PHONE.fullmatch(core):
        return None
    valid, possible = _judge(core, regions)
    separated = bool(re.search(r"[\s().\-/]", core.strip("()")))
    cue = bool(_CUE.search(text, max(0, start - 30), start))
    international = core.lstrip("(").startswith(("+", "00"))
    if not possible:
        return None
    if international:
        return 0.85 if valid or cue else 0.6
    if cue:
        return 0.85 if valid else 0.6
    # National format, no cue: 8-digit runs are valid somewhere for most inputs.
    if separated and (len(digits) >= 9 or core.startswith(("0", "("))):
        return 0.8 if valid else 0.5 if len(digits) >= 10 else None
    return 0.6 if valid and core.startswith("0") and len(digits) >= 9 else None


class IntlPhoneRecognizer(EntityRecognizer):
    """``PHONE_NUMBER`` in national and international formats (see the module docstring)."""

    def __init__(self, regions: Sequence[str] = DEFAULT_REGIONS) -> None:
        self.regions = tuple(dict.fromkeys(r.upper() for r in (*regions, *DEFAULT_REGIONS)))
        super().__init__(supported_entities=["PHONE_NUMBER"], name="IntlPhoneRecognizer")

    def load(self) -> None:
        """Nothing to load: libphonenumber's metadata loads on first parse."""

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: Any = None) -> list[RecognizerResult]:
        if entities and "PHONE_NUMBER" not in entities:
            return []
        return [RecognizerResult("PHONE_NUMBER", s, e, score)
                for s, e, score in self.spans(text)]

    def spans(self, text: str) -> Iterable[tuple[int, int, float]]:
        for match in _CANDIDATE.finditer(text):
            start, end = _trim(text, *match.span("span"))
            score = phone_score(text, start, end, self.regions) if end > start else None
            if score is not None:
                yield start, end, score


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop separators at the edges and an unbalanced parenthesis."""
    while start < end and text[start] in " \t.-/":
        start += 1
    while end > start and text[end - 1] in " \t.-/":
        end -= 1
    value = text[start:end]
    if value.endswith(")") and value.count("(") < value.count(")"):
        end -= 1
    if value.startswith("(") and value.count("(") > value.count(")"):
        start += 1
    return start, end
