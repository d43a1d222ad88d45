"""Event types as values: each names its payload model, whether it belongs to a ticket, and
the class of each of its strings.

A room declares its types as a tuple of :class:`EventType` (events declares the ticket and
knowledge-base types here, in :data:`CORE_TYPES`); the composition root joins every room's
tuple into one :class:`Catalogue` by explicit import, so every process knows the same types
and nothing is registered by importing a module. Code of this room that is handed no
catalogue knows :data:`CORE` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from supportops.events import schemas as s
from supportops.events.classification import (
    AGENT,
    FREE,
    LABEL,
    LANGUAGE,
    STATE_CLASSES,
    TIME,
    Code,
    FieldClass,
    Identity,
)


@dataclass(frozen=True)
class EventType:
    """One event type: ``ticket`` types are refused without a ``ticket_id``; ``classes``
    declares its strings by dotted path (``[]`` for list items; anything else is free text)."""

    name: str
    payload: type[BaseModel]
    ticket: bool = False
    classes: Mapping[str, FieldClass] = field(default_factory=dict)

    def validate(self, payload: dict[str, Any], canonical: bool = False) -> dict[str, Any]:
        """The payload checked and in canonical JSON form (``canonical`` payloads, built by our
        own importers, are checked but not re-serialised: that halves the cost on large logs).
        Raises ``pydantic.ValidationError`` for a bad payload."""
        obj = self.payload.model_validate(payload)
        if canonical:
            return payload
        dumped: dict[str, Any] = obj.model_dump(mode="json", exclude_unset=True)
        return dumped

    @cached_property
    def declared(self) -> Mapping[str, FieldClass]:
        """Its classes with the ticket state's (any payload may carry ``state``); built once,
        as ingestion asks for every draft."""
        return MappingProxyType({**STATE_CLASSES, **self.classes})


@dataclass(frozen=True)
class Catalogue:
    """Every event type a workspace knows, by name (read-only)."""

    types: Mapping[str, EventType]

    @classmethod
    def of(cls, *groups: Iterable[EventType]) -> Catalogue:
        """One catalogue from each room's declared types; a name declared twice is refused."""
        types: dict[str, EventType] = {}
        for group in groups:
            for kind in group:
                if kind.name in types:
                    raise ValueError(f"Event type {kind.name!r} is declared twice; each type "
                                     "is declared by the one room that owns it.")
                types[kind.name] = kind
        return cls(MappingProxyType(types))

    def __contains__(self, name: object) -> bool:
        return name in self.types

    def names(self) -> list[str]:
        return sorted(self.types)

    def needs_ticket(self, name: str) -> bool:
        kind = self.types.get(name)
        return kind is not None and kind.ticket

    def validate(self, name: str, payload: dict[str, Any],
                 canonical: bool = False) -> dict[str, Any]:
        """See :meth:`EventType.validate`; ``KeyError`` for a type this catalogue lacks."""
        return self.types[name].validate(payload, canonical)

    def classes(self, name: str) -> Mapping[str, FieldClass]:
        """The declared classes of a type's strings (:attr:`EventType.declared`); a type this
        catalogue lacks has only the ticket state's."""
        kind = self.types.get(name)
        return kind.declared if kind is not None else _STATE_ONLY


_STATE_ONLY: Mapping[str, FieldClass] = MappingProxyType(STATE_CLASSES)
_MODEL: dict[str, FieldClass] = {"model": LABEL, "model_version": LABEL}
_KB_ARTICLE: dict[str, FieldClass] = {
    "article_id": LABEL, "title": FREE, "body": FREE, "tags[]": LABEL, "question": FREE,
    "intent": LABEL, "category": LABEL, "language": LANGUAGE}
_TICKET_CREATED: dict[str, FieldClass] = {
    "subject_line": FREE, "text": FREE, "channel": LABEL, "category": LABEL,
    "priority": LABEL, "group": LABEL, "assignee": AGENT, "status": LABEL,
    "customer.name": Identity("PERSON"), "customer.email": Identity("EMAIL_ADDRESS"),
    "customer.phone": Identity("PHONE_NUMBER")}
_MESSAGE: dict[str, FieldClass] = {
    "author": Code(vocabulary=frozenset({"customer", "agent"})),
    "visibility": Code(vocabulary=frozenset({"public", "internal"})), "text": FREE,
    "author_name": Identity("PERSON", "author")}

#: The events room's own types: tickets, their messages, and knowledge-base articles.
CORE_TYPES: tuple[EventType, ...] = (
    EventType("ticket.created", s.TicketCreated, True, _TICKET_CREATED),
    EventType("message.added", s.MessageAdded, True, _MESSAGE),
    EventType("ticket.status_changed", s.StatusChanged, True, {"status": LABEL}),
    EventType("ticket.assigned", s.Assigned, True,
              {"group": LABEL, "assignee": AGENT, **_MODEL}),
    EventType("ticket.priority_changed", s.PriorityChanged, True, {"priority": LABEL}),
    EventType("ticket.categorized", s.Categorized, True, {"category": LABEL, **_MODEL}),
    EventType("ticket.resolved", s.Resolved, True, {"resolution": FREE, "resolved_at": TIME}),
    EventType("ticket.reopened", s.Reopened, True, {"reason": FREE}),
    EventType("ticket.closed", s.Closed, True, {"close_code": LABEL, "closed_at": TIME}),
    EventType("ticket.updated", s.Updated, True),
    EventType("satisfaction.rated", s.SatisfactionRated, True, {"comment": FREE}),
    EventType("kb_article.published", s.KbArticlePublished, False, _KB_ARTICLE),
    EventType("kb_article.updated", s.KbArticlePublished, False, _KB_ARTICLE),
)

#: The catalogue of this room alone (code handed no other, e.g. a bare ``Database``'s).
CORE = Catalogue.of(CORE_TYPES)
