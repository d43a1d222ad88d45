"""Pseudonymisation at ingestion: the :class:`~supportops.events.log.Protector` of privacy.

Identity fields (customer id, names, e-mail, phone, assignees, person-like attributes) are
replaced wholesale by a typed token; free text goes through the PII detector, batched over the
whole ingest batch, and every span becomes a token too. Values a subject's records declare in
the batch (its customer id, name, e-mail...) are also replaced wherever they occur in that
subject's free text, so that a detector miss cannot leak a value the input itself names.
Originals go to the vault under the subject's key, in the append's transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Connection

from supportops.events.schemas import EventDraft
from supportops.governance.context import Context
from supportops.privacy import vault
from supportops.privacy.detection import PiiDetector, Span
from supportops.privacy.keys import Keyring

SUBJECT_KIND = "CUSTOMER"
Detect = Callable[[Sequence[str]], list[list[Span]]]

#: Free-text fields per event type.
FREE_TEXT: dict[str, tuple[str, ...]] = {
    "ticket.created": ("text", "subject_line"),
    "message.added": ("text",),
    "ticket.resolved": ("resolution",),
    "satisfaction.rated": ("comment",),
    "ticket.reopened": ("reason",),
    "privacy.opted_out": ("reason",),
    "privacy.opted_in": ("reason",),
}
#: Identity fields (dotted paths) per event type, and the token kind of each.
IDENTITY: dict[str, tuple[tuple[str, str], ...]] = {
    "ticket.created": (("customer.name", "PERSON"), ("customer.email", "EMAIL_ADDRESS"),
                       ("customer.phone", "PHONE_NUMBER"), ("assignee", "PERSON")),
    "message.added": (("author_name", "PERSON"),),
    "ticket.assigned": (("assignee", "PERSON"),),
}
_KEY_KINDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("email", "e-mail", "mail"), "EMAIL_ADDRESS"),
    (("phone", "mobile", "tel", "fax"), "PHONE_NUMBER"),
    (("iban",), "IBAN_CODE"),
    (("card", "pan"), "CREDIT_CARD"),
    (("account", "bank"), "BANK_ACCOUNT"),
    (("ssn", "national", "passport", "nino", "tax_id", "license"), "NATIONAL_ID"),
    (("birth", "dob"), "DATE_OF_BIRTH"),
    (("address", "street", "postcode", "zip", "city"), "LOCATION"),
    (("ip",), "IP_ADDRESS"),
    (("name", "caller", "owner", "customer", "assignee", "contact", "user", "agent"), "PERSON"),
)


#: Words that make a person-like attribute name descriptive ("owner_country", "user_group").
_NOT_PERSONAL = ("country", "count", "group", "level", "type", "status", "category")


@lru_cache(maxsize=4096)
def attribute_kind(key: str) -> str | None:
    """Token kind of an attribute whose name says it holds personal data (else ``None``)."""
    k = key.lower().replace(" ", "_").replace("-", "_")
    for needles, kind in _KEY_KINDS:
        if any(k == n or (len(n) > 3 and n in k) or k.startswith(n + "_") or
               k.endswith("_" + n) for n in needles):
            if kind == "PERSON" and any(word in k for word in _NOT_PERSONAL):
                return None
            return kind
    if k.endswith("_by") and not any(word in k for word in _NOT_PERSONAL):
        return "PERSON"
    return None


@cache
def default_detector() -> PiiDetector:
    """One detector per process: loading spaCy and Presidio takes seconds."""
    return PiiDetector()


def _detect_default(texts: Sequence[str]) -> list[list[Span]]:
    return default_detector().detect_batch(texts)


@dataclass
class _Slot:
    """A free-text field to pseudonymise: ``holder[key]`` of draft ``index``."""

    index: int
    holder: dict[str, Any]
    key: str


@dataclass
class _Batch:
    subjects: list[str] = field(default_factory=list)
    known: dict[str, dict[str, str]] = field(default_factory=dict)  # subject: value -> kind
    slots: list[_Slot] = field(default_factory=list)
    entries: dict[tuple[str, str], str] = field(default_factory=dict)


class Pseudonymiser:
    """Replaces personal data in drafts by tokens and keeps the originals in the vault."""

    def __init__(self, keyring: Keyring, detect: Detect | None = None) -> None:
        self.keyring = keyring
        self.detect = detect or _detect_default
        self._stored: set[tuple[str, str]] = set()

    def protect(self, conn: Connection, ctx: Context, drafts: list[EventDraft]) -> None:
        self.keyring.load(conn)
        batch = _Batch()
        for i, draft in enumerate(drafts):
            self._identity(batch, i, draft)
        self._free_text(batch)
        fresh = {k: v for k, v in batch.entries.items() if k not in self._stored}
        vault.store(conn, self.keyring, fresh)
        if len(self._stored) < 1_000_000:
            self._stored.update(fresh)

    def forget(self) -> None:
        """Drop what a rolled-back transaction may have cached (keys it created, vault entries
        it stored): the retry must create and store them again."""
        self._stored.clear()
        self.keyring = Keyring(self.keyring.provider, self.keyring.ctx)

    def transient(self, drafts: list[EventDraft]) -> None:
        """Pseudonymise drafts in place exactly as ingestion would, but keep nothing: for
        inference on data that is not ingested (models only ever saw tokens). The keyring
        must be loaded."""
        batch = _Batch()
        for i, draft in enumerate(drafts):
            self._identity(batch, i, draft)
        self._free_text(batch)

    def tokenise(self, batch: _Batch, index: int, kind: str, value: str) -> str:
        token = self.keyring.token(kind, value)
        batch.entries.setdefault((batch.subjects[index], token), value)
        return token

    # -- identity fields ----------------------------------------------------------------------

    def _identity(self, batch: _Batch, index: int, draft: EventDraft) -> None:
        subject = vault.UNATTRIBUTED
        if draft.subject:
            subject = self.keyring.token(SUBJECT_KIND, draft.subject)
        batch.subjects.append(subject)
        known = batch.known.setdefault(subject, {})
        if draft.subject:
            known[draft.subject] = SUBJECT_KIND
        if draft.subject:
            batch.entries.setdefault((subject, subject), draft.subject)
            draft.subject = subject
        payload = draft.payload
        for path, kind in IDENTITY.get(draft.type, ()):
            self._replace_path(batch, index, payload, path, kind)
        attributes = payload.get("attributes")
        if isinstance(attributes, dict):
            self._attributes(batch, index, attributes, free=True)
        state = payload.get("state")
        if isinstance(state, dict):
            self._replace(batch, index, state, "assignee", "PERSON")
            if isinstance(state.get("attributes"), dict):
                self._attributes(batch, index, state["attributes"], free=False)
        for key in FREE_TEXT.get(draft.type, ()):
            if isinstance(payload.get(key), str) and payload[key].strip():
                batch.slots.append(_Slot(index, payload, key))

    def _replace_path(self, batch: _Batch, index: int, payload: dict[str, Any], path: str,
                      kind: str) -> None:
        *parents, leaf = path.split(".")
        holder: Any = payload
        for part in parents:
            holder = holder.get(part) if isinstance(holder, dict) else None
        if isinstance(holder, dict):
            self._replace(batch, index, holder, leaf, kind)

    def _replace(self, batch: _Batch, index: int, holder: dict[str, Any], key: str,
                 kind: str) -> None:
        value = holder.get(key)
        if isinstance(value, str) and value:
            batch.known[batch.subjects[index]][value] = kind
            holder[key] = self.tokenise(batch, index, kind, value)

    def _attributes(self, batch: _Batch, index: int, attributes: dict[str, Any],
                    free: bool) -> None:
        for key, value in attributes.items():
            if value.__class__ is not str or not value:
                continue
            kind = attribute_kind(key)
            if kind is not None:
                self._replace(batch, index, attributes, key, kind)
            elif free and value.strip():
                batch.slots.append(_Slot(index, attributes, key))

    # -- free text ----------------------------------------------------------------------------

    def _free_text(self, batch: _Batch) -> None:
        if not batch.slots:
            return
        texts = [slot.holder[slot.key] for slot in batch.slots]
        found = self.detect(texts)
        patterns: dict[str, re.Pattern[str] | None] = {}
        for slot, text, spans in zip(batch.slots, texts, found, strict=True):
            subject = batch.subjects[slot.index]
            if subject not in patterns:
                patterns[subject] = _known_pattern(batch.known[subject])
            merged = _merge(spans, _known_spans(text, patterns[subject], batch.known[subject]))
            slot.holder[slot.key] = self._rewrite(batch, slot.index, text, merged)

    def _rewrite(self, batch: _Batch, index: int, text: str, spans: list[Span]) -> str:
        out: list[str] = []
        at = 0
        for span in spans:
            out.append(text[at : span.start])
            out.append(self.tokenise(batch, index, span.type, text[span.start : span.end]))
            at = span.end
        out.append(text[at:])
        return "".join(out)


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
