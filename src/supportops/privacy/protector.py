"""Pseudonymisation at ingestion: the :class:`~supportops.events.log.Protector` of privacy.

Identity fields (customer id, names, e-mail, phone, assignees, person-like attributes) are
replaced wholesale by a typed token; free text goes through the PII detector, batched over the
whole ingest batch, and every span becomes a token too. Values a subject's records declare in
the batch (its customer id, name, e-mail...) are also replaced wherever they occur in that
subject's free text, so that a detector miss cannot leak a value the input itself names.

What is identity, code or free text is the event type's declaration (the catalogue handed to
the pseudonymiser, :mod:`supportops.events.catalogue`); anything undeclared, at any depth, is
scanned, and a code that fails its vocabulary or pattern is tokenised whole. Originals go to
the vault, in the append's transaction, under the subject each belongs to: the customer's
values under the customer, an assignee under that agent, a staff attribute under that
employee, a name found in free text under the record's customer and under the name's own
(third-party) subject.

A guess of the NER model alone that equals a term of the tenant's domain vocabulary (product
names from its own published articles, :mod:`supportops.privacy.domain_terms`) stays as
written; the vocabulary is recorded from knowledge-base drafts in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Connection

from supportops.events import classification
from supportops.events.catalogue import CORE, Catalogue
from supportops.events.classification import Code, Identity
from supportops.events.schemas import EventDraft
from supportops.governance.context import Context
from supportops.privacy import domain_terms, subjects, vault
from supportops.privacy.detection import PiiDetector, Span
from supportops.privacy.keys import Keyring

Detect = Callable[[Sequence[str]], list[list[Span]]]

attribute_kind = classification.attribute_kind
#: What a value of a code field that is not a valid code becomes (a ``<CODE_..>`` token).
INVALID_CODE = Identity("CODE")


@cache
def default_detector() -> PiiDetector:
    """One detector per process: loading spaCy and Presidio takes seconds."""
    return PiiDetector()


def _detect_default(texts: Sequence[str]) -> list[list[Span]]:
    return default_detector().detect_batch(texts)


@dataclass
class _Slot:
    """A free-text value to pseudonymise: ``holder[key]`` of draft ``index``."""

    index: int
    holder: dict[str, Any] | list[Any]
    key: Any


@dataclass
class _Batch:
    #: Per draft: the customer's subject reference, or ``None`` (no customer).
    subjects: list[str | None] = field(default_factory=list)
    #: Values the records declare (value -> kind), per customer (or per draft without one).
    known: dict[str, dict[str, str]] = field(default_factory=dict)
    known_of: list[str] = field(default_factory=list)
    slots: list[_Slot] = field(default_factory=list)
    entries: dict[tuple[str, str], str] = field(default_factory=dict)  # (subject ref, token)
    vocabulary: domain_terms.Vocabulary | None = None
    links: set[tuple[str, str]] = field(default_factory=set)  # (customer ref, third party)


class Pseudonymiser:
    """Replaces personal data in drafts by tokens and keeps the originals in the vault,
    each under the subject it belongs to (customer, agent, employee, third party)."""

    def __init__(self, keyring: Keyring, detect: Detect | None = None,
                 catalogue: Catalogue = CORE) -> None:
        self.keyring = keyring
        self.detect = detect or _detect_default
        #: What is identity, code or free text: each event type's declaration.
        self.catalogue = catalogue
        self._stored: set[tuple[str, str]] = set()
        self._linked: set[tuple[str, str]] = set()
        #: The tenant's domain vocabulary as last loaded (:meth:`refresh_vocabulary`).
        self.vocabulary: domain_terms.Vocabulary | None = None

    def key_ids(self, conn: Connection, ctx: Context, drafts: Sequence[EventDraft]) -> None:
        """Idempotency keys (and ids) become HMACs under the tenant key: never raw input."""
        self.keyring.load(conn)
        for draft in drafts:
            draft.idempotency_key = self.keyring.keyed_id(draft.idempotency_key)
            if draft.id is not None:
                draft.id = self.keyring.keyed_uuid(draft.id)

    def protect(self, conn: Connection, ctx: Context, drafts: list[EventDraft]) -> None:
        self.keyring.load(conn)
        vocabulary = domain_terms.load(conn, self.keyring)
        added = domain_terms.record(conn, self.keyring, drafts)
        batch = _Batch(vocabulary=vocabulary.with_terms(added) if added else vocabulary)
        for i, draft in enumerate(drafts):
            self._identity(batch, i, draft)
        self._free_text(batch)
        fresh = {k: v for k, v in batch.entries.items() if k not in self._stored}
        vault.store(conn, self.keyring, fresh)
        vault.link(conn, self.keyring, batch.links - self._linked)
        if len(self._stored) < 1_000_000:
            self._stored.update(fresh)
            self._linked.update(batch.links)

    def forget(self) -> None:
        """Drop what a rolled-back transaction may have cached (keys it created, vault entries
        it stored): the retry must create and store them again."""
        self._stored.clear()
        self.keyring = Keyring(self.keyring.provider, self.keyring.ctx)

    def refresh_vocabulary(self, conn: Connection) -> None:
        """Load the keyring and the tenant's domain vocabulary (cached; reloaded when an
        article changed it) for :meth:`transient`."""
        self.keyring.load(conn)
        self.vocabulary = domain_terms.load(conn, self.keyring)

    def transient(self, drafts: list[EventDraft]) -> None:
        """Pseudonymise drafts in place exactly as ingestion would, but keep nothing: for
        inference on data that is not ingested (models only ever saw tokens). The keyring
        must be loaded (and the vocabulary, by :meth:`refresh_vocabulary`, to waive it)."""
        batch = _Batch(vocabulary=self.vocabulary)
        for i, draft in enumerate(drafts):
            self._identity(batch, i, draft)
        self._free_text(batch)

    def _vault(self, batch: _Batch, subject: str, token: str, value: str) -> None:
        batch.entries.setdefault((subject, token), value)

    # -- identity fields ----------------------------------------------------------------------

    def _identity(self, batch: _Batch, index: int, draft: EventDraft) -> None:
        customer: str | None = None
        if draft.subject:
            token = self.keyring.token(subjects.CUSTOMER, draft.subject)
            customer = self.keyring.subject_ref(subjects.CUSTOMER, token)
        batch.subjects.append(customer)
        batch.known_of.append(customer or f"#{index}")
        known = batch.known.setdefault(batch.known_of[index], {})
        if draft.subject and customer is not None:
            known[draft.subject] = subjects.CUSTOMER
            self._vault(batch, customer, token, draft.subject)
            draft.subject = token
        payload = draft.payload
        _safe_keys(payload, self, batch, index)
        for holder, key, cls in classification.strings(self.catalogue.classes(draft.type), payload):
            value = holder[key]
            if not value.strip():
                continue
            if isinstance(cls, Identity):
                known[value] = cls.kind
                holder[key] = self._identity_value(batch, index, cls, value, payload)
            elif isinstance(cls, Code):
                if not cls.accepts(value):  # not a code: tokenised whole, columns keep width
                    holder[key] = self._identity_value(batch, index, INVALID_CODE, value,
                                                       payload)
            else:
                batch.slots.append(_Slot(index, holder, key))

    def _identity_value(self, batch: _Batch, index: int, cls: Identity, value: str,
                        payload: dict[str, Any]) -> str:
        token = self.keyring.token(cls.kind, value)
        owner = cls.owner
        if owner == "author":
            owner = "agent" if payload.get("author") == "agent" else "customer"
        customer = batch.subjects[index]
        if owner == "customer" and customer is not None:
            self._vault(batch, customer, token, value)
        else:
            kind = subjects.OWNER_KINDS.get(owner, subjects.THIRD_PARTY)
            self._vault(batch, self.keyring.subject_ref(kind, token), token, value)
        return token

    def _third_party(self, batch: _Batch, index: int, token: str, value: str,
                     person: bool) -> None:
        """A value found in free text: under the record's customer, and a name (or any value
        of a record without a customer) also under its own subject."""
        customer = batch.subjects[index]
        if customer is not None:
            self._vault(batch, customer, token, value)
        if person or customer is None:
            own = self.keyring.subject_ref(subjects.THIRD_PARTY, token)
            self._vault(batch, own, token, value)
            if customer is not None:
                batch.links.add((customer, own))

# -- free text ----------------------------------------------------------------------------

    def _free_text(self, batch: _Batch) -> None:
        if not batch.slots:
            return
        texts = [slot.holder[slot.key] for slot in batch.slots]
        found = self.detect(texts)
        patterns: dict[str, re.Pattern[str] | None] = {}
        for slot, text, spans in zip(batch.slots, texts, found, strict=True):
            known_key = batch.known_of[slot.index]
            known = batch.known[known_key]
            if known_key not in patterns:
                patterns[known_key] = _known_pattern(known)
            kept = _waive_vocabulary(text, spans, batch.vocabulary)
            merged = _merge(kept, _known_spans(text, patterns[known_key], known))
            slot.holder[slot.key] = self._rewrite(batch, slot.index, text, merged)

    def _rewrite(self, batch: _Batch, index: int, text: str, spans: list[Span]) -> str:
        out: list[str] = []
        at = 0
        for span in spans:
            out.append(text[at : span.start])
            value = text[span.start : span.end]
            token = self.keyring.token(span.type, value)
            self._third_party(batch, index, token, value, span.type == "PERSON")
            out.append(token)
            at = span.end
        out.append(text[at:])
        return "".join(out)


def _safe_keys(node: Any, owner: Pseudonymiser, batch: _Batch, index: int,
               inside: bool = False) -> None:
    """Attribute names that could hold personal data are tokenised whole (``<KEY_..>``)."""
    if isinstance(node, list):
        for item in node:
            _safe_keys(item, owner, batch, index, inside)
        return
    if not isinstance(node, dict):
        return
    for key in list(node):
        value = node[key]
        if inside and not classification.safe_key(key):
            token = owner.keyring.token("KEY", key)
            owner._third_party(batch, index, token, key, False)
            node[token] = node.pop(key)
        _safe_keys(value, owner, batch, index, inside or key == "attributes")


def _waive_vocabulary(text: str, spans: list[Span],
                      vocabulary: domain_terms.Vocabulary | None) -> list[Span]:
    """Drop NER-only guesses that are a term of the tenant's domain vocabulary."""
    if vocabulary is None or not vocabulary.hashes:
        return spans
    return [s for s in spans if not (s.ner and text[s.start:s.end] in vocabulary)]


def _known_pattern(known: dict[str, str]) -> re.Pattern[str] | None:
    """One regex for the record's own identity values (and the parts of its names)."""
    values = set()
    for value, kind in known.items():
        if len(value) >= 3:
            values.add(value)
        if kind == "PERSON":
            values.update(p for p in value.split() if len(p) >= 3 and p[0].isupper()
                          and not p.endswith("."))
    if not values:
        return None
    alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _known_spans(text: str, pattern: re.Pattern[str] | None,
                 known: dict[str, str]) -> list[Span]:
    if pattern is None:
        return []
    lowered = {k.lower(): v for k, v in known.items()}
    return [Span(m.start(), m.end(), lowered.get(m.group(0).lower(), "PERSON"), 1.0)
            for m in pattern.finditer(text)]


def _merge(detected: list[Span], known: list[Span]) -> list[Span]:
    """Union of overlapping spans (privacy first); the longest piece names the type."""
    spans = sorted([*detected, *known], key=lambda s: (s.start, -(s.end - s.start)))
    merged: list[Span] = []
    for span in spans:
        if merged and span.start < merged[-1].end:
            prev = merged[-1]
            longer = prev if prev.end - prev.start >= span.end - span.start else span
            merged[-1] = Span(prev.start, max(prev.end, span.end), longer.type,
                              max(prev.score, span.score))
        else:
            merged.append(span)
    return merged
