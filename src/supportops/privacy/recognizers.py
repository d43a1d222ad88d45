"""Custom recognisers where Presidio's defaults are weak for support tickets.

Every recogniser here is a plain regular-expression recogniser with an optional
context check written in code, so that it behaves the same whatever spaCy
pipeline components are enabled (Presidio's own context boost needs lemmas).

Types emitted (street addresses: :mod:`supportops.privacy.addresses`; phone numbers:
:mod:`supportops.privacy.phones`):

- ``DATE_OF_BIRTH``  a date preceded by a birth cue ("born on", "DOB:", "date of birth").
- ``PERSON``         names introduced by a cue ("my name is", "Dear", "Regards,", "Mr.").
- ``US_BANK_NUMBER`` digit runs introduced by "account number" and the like.
- ``EMAIL_ADDRESS``  any RFC-shaped address, private and reserved domains included.
- ``CREDIT_CARD`` / ``UK_NHS``  card numbers Presidio misses; NHS numbers with a cue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import tldextract
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import NhsRecognizer

from supportops.privacy.detection import TITLE

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
    baseline); our own :class:`AnyDomainEmailRecognizer` needs no suffix list.
    """
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    email_recognizer.tldextract = SimpleNamespace(  # type: ignore[attr-defined,assignment,unused-ignore]
        extract=offline_tld_extractor(), __name__="tldextract(offline)"
    )


class AnyDomainEmailRecognizer(EntityRecognizer):
    """RFC-shaped ``local@domain.tld`` on any domain, public suffix or not.

    Internal help desks are full of ``jane.doe@acme.internal`` and ``bob@corp.local``;
    a public-suffix check (Presidio's) lets those through in clear.
    """

    PATTERN = re.compile(
        r"(?<![\w.+'-])(?P<span>[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*"
        r"@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_][\w-]{0,62})(?![\w-]|\.[^\W_])"
    )

    def __init__(self) -> None:
        super().__init__(supported_entities=["EMAIL_ADDRESS"], name="AnyDomainEmailRecognizer")

    def load(self) -> None:
        """Nothing to load: the pattern is compiled at import time."""

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: Any = None) -> list[RecognizerResult]:
        if entities and "EMAIL_ADDRESS" not in entities:
            return []
        return [RecognizerResult("EMAIL_ADDRESS", *m.span("span"), 0.9)
                for m in self.PATTERN.finditer(text)]


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

_UP = "A-ZÀ-ÖØ-ÞĀĂĄĆČĎĐĒĖĘĚĞĪĮİŁŃŅŇŌŐŒŘŚŞŠŢŤŪŮŰŲŸŹŻŽ"
_NAME = rf"[{_UP}][^\W\d_]+(?:[-'’][{_UP}]?[^\W\d_]+)?|[{_UP}][a-z]?[{_UP}][^\W\d_]+|[{_UP}]\."
_NAME_PARTICLE = r"(?:da|de|del|della|der|den|di|do|dos|das|du|la|le|van|von|ten|ter|bin|al|y)"
_FULL_NAME = rf"(?:{_NAME})(?:[ \t]+(?:{_NAME_PARTICLE}[ \t]+){{0,2}}(?:{_NAME})){{0,3}}"
_NOT_NAMES = frozenset({
    "team", "all", "everyone", "there", "sir", "madam", "support", "customer", "service",
    "folks", "guys", "friends", "the", "a", "an", "and", "hello", "hi", "thanks", "thank",
    "regards", "sincerely", "best", "cheers", "please", "i", "we", "you", "me", "my", "our",
    "your", "this", "that", "it", "is", "am", "here", "from", "again", "on", "in", "at",
    "if", "when", "will", "can", "could", "would", "should", "do", "does", "are",
    "how", "what", "why", "where", "who", "which", "ok", "yes", "no", "call", "ring", "text",
    "phone", "contact", "reach", "dial", "fax", "email", "mail", "write", "send", "ping",
    "mobile", "tel", "cell", "whatsapp", "office", "line", "number", "home", "work",
})
_CONTACT_AFTER = (r"(?=(?:[ \t]*(?:[|,(<\-–—:]|\n)[ \t]*|[ \t]+(?:on|at|via)[ \t]+)"
                  r"(?:\+?\(?\d[\d \-().]{6,}|[\w.+'-]+@\w))")


class PersonCueRecognizer(RegexRecognizer):
    """Names introduced by a cue or followed by contact details; what small NER misses."""

    ENTITY = "PERSON"
    SCORE = 0.7
    PATTERNS = (
        re.compile(
            r"(?i:\b(?:my\s+name\s+is|name\s*:|i\s+am|i'm|this\s+is|speaking\s+with|"
            r"spoke\s+(?:to|with)|talked\s+to|assigned\s+to|signed\s*,?|ask|asked|tell|told|"
            r"called|emailed|contacted|cc:?|attn:?|attention:?|customer:?|client:?|"
            r"colleague|manager|on\s+behalf\s+of|account\s+holder:?|contact\s+person:?|"
            r"requested\s+by|reported\s+by|opened\s+by|approved\s+by)[ \t]+)"
            rf"(?P<span>(?:{TITLE}[ \t]+)?{_FULL_NAME})"
        ),
        re.compile(
            r"(?i:\b(?:dear|hi|hello|hey|greetings)[ \t]+)"
            rf"(?P<span>(?:{TITLE}[ \t]+)?{_FULL_NAME})"
        ),
        re.compile(
            r"(?i:\b(?:regards|thanks|thank\s+you|cheers|sincerely|best|br|kind\s+regards|"
            r"yours\s+truly|best\s+wishes|many\s+thanks)[ \t]*[,\-–—]?[ \t]*\n?[ \t]*)"
            rf"(?P<span>(?:{TITLE}[ \t]+)?{_FULL_NAME})"
        ),
        re.compile(rf",[ \t]*\n[ \t]*(?P<span>{_FULL_NAME})(?=[ \t]*(?:\n|$))"),
        re.compile(rf"\b(?P<span>{TITLE}[ \t]+{_FULL_NAME})"),
        # A name line or name right before a phone number or e-mail (signatures, contacts).
        re.compile(rf"(?m:^)[ \t]*(?P<span>{_FULL_NAME}){_CONTACT_AFTER}"),
        re.compile(rf"(?P<span>(?:{_NAME})(?:[ \t]+(?:{_NAME_PARTICLE}[ \t]+){{0,2}}(?:{_NAME})){{1,3}})"
                   rf"{_CONTACT_AFTER}"),
    )

    def _matches(self, text: str) -> Iterable[tuple[int, int]]:
        for start, end in super()._matches(text):
            words = list(re.finditer(r"\S+", text[start:end]))
            while words and words[-1].group().lower().strip(".") in _NOT_NAMES:
                words.pop()
            while words and words[0].group().lower().strip(".,") in _NOT_NAMES:
                words.pop(0)
            if words and len(words[0].group()) > 1:
                yield start + words[0].start(), start + words[-1].end()


# --------------------------------------------------------------------------- accounts


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


# --------------------------------------------------------------------------- IBAN


def iban_ok(value: str) -> bool:
    """ISO 13616 mod-97 check (country code + check digits + BBAN)."""
    compact = re.sub(r"\s", "", value).upper()
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return len(compact) >= 15 and int(digits) % 97 == 1


class Mod97IbanRecognizer(RegexRecognizer):
    """IBANs of any country and grouping, validated by the mod-97 checksum alone.

    Presidio's recogniser also checks each country's length and layout and so drops
    numbers written with unusual grouping; the checksum already rejects ~99% of
    random strings.
    """

    ENTITY = "IBAN_CODE"
    SCORE = 0.9
    PATTERNS = (
        re.compile(r"(?<![\w-])(?P<span>[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30})(?![\w-])"),
    )

    def _matches(self, text: str) -> Iterable[tuple[int, int]]:
        for start, end in super()._matches(text):
            while end - start >= 15 and not iban_ok(text[start:end]):
                end = text.rfind(" ", start, end)  # drop a trailing group that is not part of it
                if end < 0:
                    break
            if end - start >= 15 and iban_ok(text[start:end]):
                yield start, end


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
