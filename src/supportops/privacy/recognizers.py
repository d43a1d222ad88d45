"""Custom recognisers where Presidio's defaults are weak for support tickets.

Every recogniser here is a plain regular-expression recogniser with an optional
context check written in code, so that it behaves the same whatever spaCy
pipeline components are enabled (Presidio's own context boost needs lemmas).

Types emitted:

- ``LOCATION``       postal addresses (street line, unit, "City, ST 12345", PO boxes,
                     UK postcodes). We keep Presidio's name rather than inventing
                     ``STREET_ADDRESS`` so that NER locations and regex addresses are
                     one type and merge into one span.
- ``DATE_OF_BIRTH``  a date preceded by a birth cue ("born on", "DOB:", "date of birth").
- ``PERSON``         names introduced by a cue ("my name is", "Dear", "Regards,", "Mr.").
- ``PHONE_NUMBER``   North-American / international numbers with separators.
- ``US_BANK_NUMBER`` digit runs introduced by "account number" and the like.
- ``EMAIL_ADDRESS``  Presidio's email pattern, validated with an offline TLD list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import tldextract
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import (
    EmailRecognizer,
    NhsRecognizer,
    PhoneRecognizer,
)

# --------------------------------------------------------------------------- offline TLDs


@lru_cache(maxsize=1)
def offline_tld_extractor() -> tldextract.TLDExtract:
    """A TLD extractor that never touches the network or the disk cache.

    ``suffix_list_urls=()`` leaves only the public-suffix snapshot bundled in the
    tldextract wheel; ``cache_dir=None`` stops it writing under ``~/.cache``.
    """
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def install_offline_tldextract() -> None:
    """Point Presidio's ``EmailRecognizer`` at the offline extractor.

    ``presidio_analyzer.predefined_recognizers.generic.email_recognizer`` calls
    ``tldextract.extract(...)``, which uses tldextract's module-level extractor and
    tries to download the public suffix list on first use. We rebind the name
    ``tldextract`` *inside that one Presidio module only* to a namespace whose
    ``extract`` is our offline extractor; the real ``tldextract`` module is left
    untouched. Idempotent. Needed only for Presidio's stock recogniser (the bench
    baseline); our own :class:`OfflineEmailRecognizer` never calls it.
    """
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    email_recognizer.tldextract = SimpleNamespace(  # type: ignore[attr-defined,assignment,unused-ignore]
        extract=offline_tld_extractor(), __name__="tldextract(offline)"
    )


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email pattern, validated against the bundled suffix snapshot."""

    def validate_result(self, pattern_text: str) -> bool:
        return bool(offline_tld_extractor()(pattern_text).fqdn)


# --------------------------------------------------------------------------- base class


class RegexRecognizer(EntityRecognizer):
    """Regex recogniser that reports one capture group (``span``) per match.

    Subclasses set ``ENTITY``, ``SCORE`` and ``PATTERNS`` (compiled regexes with a
    named group ``span``) and may override :meth:`accept` for a code-level check.
    """

    ENTITY = ""
    SCORE = 0.6
    PATTERNS: tuple[re.Pattern[str], ...] = ()

    def __init__(self) -> None:
        super().__init__(supported_entities=[self.ENTITY], name=type(self).__name__)

    def load(self) -> None:
        """Nothing to load: patterns are compiled at import time."""

    def accept(self, text: str, start: int, end: int) -> bool:
        return True

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        if entities and self.ENTITY not in entities:
            return []
        results: list[RecognizerResult] = []
        for start, end in self._matches(text):
            if end > start and self.accept(text, start, end):
                results.append(RecognizerResult(self.ENTITY, start, end, self.SCORE))
        return results

    def _matches(self, text: str) -> Iterable[tuple[int, int]]:
        for pattern in self.PATTERNS:
            for match in pattern.finditer(text):
                yield match.span("span")


# --------------------------------------------------------------------------- addresses

# USPS street suffixes (Publication 28, common subset) plus UK forms.
_STREET_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|"
    r"Place|Pl|Terrace|Ter|Circle|Cir|Square|Sq|Parkway|Pkwy|Highway|Hwy|Trail|Trl|"
    r"Crescent|Cres|Close|Gardens|Garden|Grove|Row|Plaza|Alley|Loop|Path|Pike|Ridge|"
    r"Run|Walk|Mews|Hill|Hills|Heights|Park|Point|Pointe|Pass|Crossing|Xing|Expressway|"
    r"Expy|Freeway|Fwy|Turnpike|Tpke|Junction|Jct|Landing|Manor|Meadow|Meadows|Mill|"
    r"Mills|Orchard|Oval|Port|Prairie|Ranch|Route|Rte|Shore|Shores|Spring|Springs|"
    r"Station|Summit|Trace|Track|Tunnel|Valley|Via|View|Villa|Village|Ville|Vista|"
    r"Brook|Brooks|Bridge|Burg|Bypass|Camp|Canyon|Cape|Causeway|Center|Centre|Cliff|"
    r"Club|Common|Commons|Corner|Corners|Course|Cove|Creek|Crest|Curve|Dale|Dam|Divide|"
    r"Estate|Estates|Extension|Falls|Ferry|Field|Fields|Flat|Flats|Ford|Forest|Forge|"
    r"Fork|Forks|Fort|Gateway|Glen|Green|Harbor|Harbour|Haven|Hollow|Inlet|Island|Isle|"
    r"Key|Knoll|Lake|Lakes|Light|Lock|Lodge|Mall|Mission|Motorway|Mount|Mountain|Neck|"
    r"Overpass|Pines|Plain|Plains|Radial|Ramp|Rapids|Rest|Shoal|Skyway|Spur|Stravenue|"
    r"Stream|Throughway|Trafficway|Underpass|Union|Unions|Viaduct|Wall|Well|Wells|Fall|"
    r"Coves|Greens|Groves|Burgs|Lights|Ports|Parks|Junctions|Crossroad|Heights|Loaf|Glens)"
)
_CAP_WORD = r"(?:[A-Z][A-Za-z'’.-]*|\d{1,3}(?:st|nd|rd|th))"
_UNIT = (
    r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl|Room|Rm|#)\.?\s*#?\s*"
    r"[A-Za-z0-9-]{1,6})"
)
_CITY_STATE_ZIP = (
    r"(?:,?\s+[A-Z][A-Za-z.'-]+(?:\s[A-Z][A-Za-z.'-]+){0,3},?\s+[A-Z]{2}\.?\s+\d{5}(?:-\d{4})?)"
)
_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}"
_CITY_POSTCODE = rf"(?:,?\s+[A-Z][A-Za-z.'-]+(?:\s[A-Z][A-Za-z.'-]+){{0,3}},?\s+{_UK_POSTCODE})"
_STREET_LINE = (
    rf"\b\d{{1,6}}[A-Za-z]?(?:-\d{{1,4}})?\s+(?:[NSEW]\.?\s+)?{_CAP_WORD}(?:\s+{_CAP_WORD}){{0,3}}"
    rf"\s+{_STREET_SUFFIX}s?\b\.?(?:\s+[NSEW]{{1,2}}\b\.?)?{_UNIT}?(?:{_CITY_STATE_ZIP}|{_CITY_POSTCODE})?"
)


class AddressRecognizer(RegexRecognizer):
    """Postal addresses: street lines (with unit and "City, ST zip"), PO boxes, postcodes."""

    ENTITY = "LOCATION"
    SCORE = 0.75
    PATTERNS = (
        re.compile(rf"(?P<span>{_STREET_LINE})"),
        re.compile(
            r"(?P<span>\b[A-Z][A-Za-z.'-]+(?:\s[A-Z][A-Za-z.'-]+){0,3},\s+"
            r"[A-Z]{2}\s+\d{5}(?:-\d{4})?)\b"
        ),
        re.compile(r"(?P<span>\b(?:P\.?\s?O\.?\s+Box|PO\s?Box|Post Office Box)\s+\d{1,6})\b", re.I),
        re.compile(rf"(?P<span>\b{_UK_POSTCODE})\b"),
        re.compile(r"(?P<span>\b(?:USNS|USNV|USS|USCGC)\s+[A-Z][a-z]+(?:,\s+FPO\s+A[AEP]\s+\d{5})?)"),
        re.compile(r"(?P<span>\b(?:Unit|PSC)\s+\d{4},?\s+Box\s+\d{4}(?:,?\s+[AFD]PO\s+A[AEP]\s+\d{5})?)"),
    )


# --------------------------------------------------------------------------- dates of birth

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DATE = (
    r"(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})"
    r"|\d{4}[/.-]\d{1,2}[/.-]\d{1,2}"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+\d{{4}})"
)
_DOB_CUE = (
    r"(?:\bborn\b|\bbirth(?:day|date)?\b|\bd\.?\s?o\.?\s?b\b\.?|\bdate\s+of\s+birth\b|"
    r"\bbday\b|\bb-day\b|\bgeboren\b|\bnée?\b)"
)


class DateOfBirthRecognizer(RegexRecognizer):
    """A date with a birth cue shortly before it; other dates are not personal data here."""

    ENTITY = "DATE_OF_BIRTH"
    SCORE = 0.9
    PATTERNS = (
        re.compile(
            rf"{_DOB_CUE}[^.!?\n\d]{{0,30}}?(?P<span>{_DATE})(?![\d/.-]\d)", re.IGNORECASE
        ),
    )


# --------------------------------------------------------------------------- names

_NAME = r"[A-Z][a-z'’]+(?:-[A-Z][a-z'’]+)?|[A-Z][a-z]?[A-Z][a-z]+|[A-Z]\."
_FULL_NAME = rf"(?:{_NAME})(?:\s+(?:{_NAME})){{0,3}}"
_NOT_NAMES = frozenset({
    "team", "all", "everyone", "there", "sir", "madam", "support", "customer", "service",
    "folks", "guys", "friends", "the", "a", "an", "and", "hello", "hi", "thanks", "thank",
    "regards", "sincerely", "best", "cheers", "please", "i", "we", "you", "me", "my", "our",
    "your", "this", "that", "it", "is", "am", "here", "from", "again",
})


class PersonCueRecognizer(RegexRecognizer):
    """Names introduced by a cue; catches what the small spaCy model misses."""

    ENTITY = "PERSON"
    SCORE = 0.7
    PATTERNS = (
        re.compile(
            r"(?i:\b(?:my\s+name\s+is|name\s*:|i\s+am|i'm|this\s+is|speaking\s+with|"
            r"spoke\s+(?:to|with)|talked\s+to|assigned\s+to|signed\s*,?|ask|asked|tell|told|"
            r"called|emailed|contacted|cc:?|attn:?|attention:?|customer:?)\s+)"
            rf"(?P<span>{_FULL_NAME})"
        ),
        re.compile(
            r"(?i:\b(?:dear|hi|hello|hey|greetings)\s+)"
            rf"(?P<span>{_FULL_NAME})"
        ),
        re.compile(
            r"(?i:\b(?:regards|thanks|thank\s+you|cheers|sincerely|best|br|kind\s+regards|"
            r"yours\s+truly)\s*[,\-–—]?\s*\n?\s*)"
            rf"(?P<span>{_FULL_NAME})"
        ),
        re.compile(rf",[ \t]*\n[ \t]*(?P<span>{_FULL_NAME})(?=\s|$)"),
        re.compile(
            rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Madam)\.?\s+(?P<span>{_FULL_NAME})"
        ),
    )

    def _matches(self, text: str) -> Iterable[tuple[int, int]]:
        for start, end in super()._matches(text):
            words = text[start:end].split()
            while words and words[-1].lower().strip(".") in _NOT_NAMES:
                words.pop()
            if words and words[0].lower() not in _NOT_NAMES and len(words[0]) > 1:
                yield start, start + len(" ".join(words))


# --------------------------------------------------------------------------- phones, accounts


class PhoneRegexRecognizer(RegexRecognizer):
    """Phone numbers with separators (NANP and +CC forms), including extensions."""

    ENTITY = "PHONE_NUMBER"
    SCORE = 0.6
    PATTERNS = (
        re.compile(
            r"(?<![\w/.+-])(?P<span>(?:(?:\+|00)\d{1,3}[\s.-]?|1[\s.-])?"
            r"(?:\(\d{2,4}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}"
            r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,5})?)(?![\w/-]|\.\d)"
        ),
        re.compile(
            r"(?<![\w/.+-])(?P<span>(?:\+|00)\d{1,3}(?:[\s.-]\d{1,4}){2,5})(?![\w/-]|\.\d)"
        ),
        # "+44(0)116 496 0210", "(028)9018283", "(0161) 4960066".
        re.compile(
            r"(?<![\w/.+-])(?P<span>(?:\+\d{1,3}\s?\(0\)\s?\d{2,5}|\(0?\d{2,5}\)\s?)"
            r"[\s.-]?\d{3,4}[\s.-]?\d{3,4})(?![\w/-]|\.\d)"
        ),
        # National trunk-prefix forms: "0161 496 0000", "01632 960 554".
        re.compile(r"(?<![\w/.+-])(?P<span>0\d{2,4}[\s-]\d{3,4}[\s-]?\d{3,4})(?![\w/-]|\.\d)"),
        # Unformatted runs need a cue: "call me on 4155550132", "mobile: 07700900123".
        re.compile(
            r"(?i:\b(?:phone|tel(?:ephone)?|mobile|cell|call|ring|text|whatsapp|sms|fax)"
            r"(?:s|ed|ing)?\b"
            r"[^.!?\n\d]{0,25}?)(?P<span>\+?\d{10,12})\b"
        ),
    )


_SEVEN_DIGITS = re.compile(r"(?:\d[\s().+/-]{0,3}){7}")


class GatedPhoneRecognizer(PhoneRecognizer):
    """Presidio's libphonenumber matcher, run only where 7+ digits occur, for US and GB.

    The matcher is the slowest step of the whole analysis (one pass per region, on
    every text); the gate skips texts that cannot hold a phone number, and "+CC"
    international numbers parse whatever the regions.
    """

    def __init__(self) -> None:
        super().__init__(supported_regions=("US", "GB"))

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        if not _SEVEN_DIGITS.search(text):
            return []
        results: list[RecognizerResult] = super().analyze(text, entities, nlp_artifacts)
        return results


class BankAccountRecognizer(RegexRecognizer):
    """Digit runs introduced by an account-number cue ("account no. 12345678")."""

    ENTITY = "US_BANK_NUMBER"
    SCORE = 0.75
    PATTERNS = (
        re.compile(
            r"(?i:\b(?:bank\s+)?(?:account|acct|a/c)\.?\s*(?:number|num|no\.?|nr\.?|#)?\s*"
            r"(?:is\s+)?[:#]?\s*)(?P<span>\d{6,17})\b"
        ),
    )


# --------------------------------------------------------------------------- cards, NHS

_CARD_CUE = re.compile(r"(?i)\b(?:card|visa|master\s?card|amex|american\s+express|maestro|"
                       r"discover|jcb|diners|credit|debit|cc)\b[^.!?\n]{0,25}$")


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


class CardRecognizer(RegexRecognizer):
    """12-19 digit card numbers Presidio's pattern misses (Maestro, 15-digit JCB, 19-digit).

    Luhn-valid runs with a card cue shortly before score high; 13-19 digit runs with
    a card-network prefix but no cue score just above the default threshold.
    """

    ENTITY = "CREDIT_CARD"
    SCORE = 0.85
    PATTERNS = (re.compile(r"(?<![\w.-])(?P<span>\d(?:[ -]?\d){11,18})(?![\w-]|\.\d)"),)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        results = []
        for start, end in self._matches(text):
            digits = re.sub(r"\D", "", text[start:end])
            if not luhn_ok(digits):
                continue
            if _CARD_CUE.search(text, max(0, start - 40), start):
                results.append(RecognizerResult(self.ENTITY, start, end, self.SCORE))
            elif len(digits) >= 13 and digits[0] in "23456":
                results.append(RecognizerResult(self.ENTITY, start, end, 0.45))
        return results


class CuedNhsRecognizer(NhsRecognizer):
    """NHS numbers, written "485 777 3456" or with an NHS/health cue shortly before.

    Presidio's checksum alone passes ~1 in 11 random 10-digit runs, so bare or
    hyphenated runs (phone and account numbers) need the cue.
    """

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        return [r for r in results
                if _NHS_SPACED.fullmatch(text, r.start, r.end)
                or _NHS_CUE.search(text[max(0, r.start - 40):r.start])]


_NHS_SPACED = re.compile(r"\d{3} \d{3} \d{4}")
_NHS_CUE = re.compile(r"(?i)\b(?:nhs|health|patient)\b")
