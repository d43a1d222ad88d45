"""Event payloads, drafts and stored events. Pydantic validates every payload before it is
appended; which type has which payload is the catalogue's (:mod:`supportops.events.catalogue`).

A payload of a ticket event may carry ``state``: the source system's own view of the ticket
after the event (snapshot logs such as ServiceNow's audit trail state it on every row). The
projection overlays it, so figures like "resolved_at as the latest record states it" hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class TicketState(_Payload):
    """Ticket fields as the source system states them after an event (all optional)."""

    status: str | None = None
    priority: str | None = None
    category: str | None = None
    group: str | None = None
    assignee: str | None = None
    channel: str | None = None
    opened_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    reassignment_count: int | None = Field(default=None, ge=0)
    reopen_count: int | None = Field(default=None, ge=0)
    attributes: dict[str, Any] | None = None


class _TicketPayload(_Payload):
    state: TicketState | None = None


class _ModelMark(_Payload):
    """A model's write-back names the model and its version (both or neither), so that
    snapshots leave it out: model guesses never become labels."""

    model: str | None = Field(default=None, min_length=1)
    model_version: str | None = Field(default=None, min_length=1)
    confidence: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _marked_whole(self) -> _ModelMark:
        if (self.model is None) != (self.model_version is None):
            raise ValueError("a model's write-back names both 'model' and 'model_version'")
        return self


class Customer(_Payload):
    name: str | None = None
    email: str | None = None
    phone: str | None = None


class TicketCreated(_TicketPayload):
    subject_line: str | None = None
    text: str | None = None
    channel: str | None = None
    category: str | None = None
    priority: str | None = None
    group: str | None = None
    assignee: str | None = None
    status: str = "new"
    customer: Customer | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class MessageAdded(_TicketPayload):
    author: Literal["customer", "agent"]
    visibility: Literal["public", "internal"] = "public"
    text: str
    author_name: str | None = None


class StatusChanged(_TicketPayload, _ModelMark):
    status: str = Field(min_length=1)


class Assigned(_TicketPayload, _ModelMark):
    group: str | None = None
    assignee: str | None = None

    @model_validator(mode="after")
    def _needs_target(self) -> Assigned:
        if self.group is None and self.assignee is None:
            raise ValueError("an assignment needs a 'group' or an 'assignee'")
        return self


class PriorityChanged(_TicketPayload, _ModelMark):
    priority: str = Field(min_length=1)


class Categorized(_TicketPayload, _ModelMark):
    category: str = Field(min_length=1)


class Resolved(_TicketPayload):
    resolution: str | None = None
    resolved_at: datetime | None = None


class Reopened(_TicketPayload):
    reason: str | None = None


class Closed(_TicketPayload):
    close_code: str | None = None
    closed_at: datetime | None = None


class Updated(_TicketPayload, _ModelMark):
    """A change to ticket fields that no narrower type describes (snapshot logs)."""


class SatisfactionRated(_TicketPayload):
    score: float = Field(ge=0, le=10)
    comment: str | None = None


class KbArticlePublished(_Payload):
    """A knowledge-base article (also the payload of ``kb_article.updated``). ``question``
    is a customer question the article answers (indexed with it); ``intent``, ``category``
    and ``language`` are codes the assistant filters and cross-checks on."""

    article_id: str = Field(min_length=1)
    title: str
    body: str
    tags: list[str] = Field(default_factory=list)
    question: str | None = None
    intent: str | None = None
    category: str | None = None
    language: str | None = None


@dataclass
class EventDraft:
    """An event before it is appended: validated, not yet sequenced."""

    type: str
    occurred_at: datetime
    payload: dict[str, Any]
    idempotency_key: str
    ticket_id: str | None = None
    subject: str | None = None
    id: str | None = None
    #: True when an importer built the payload itself in canonical JSON form.
    canonical: bool = False


#: Idempotency keys of model write-backs (older priority write-backs carry no other mark).
WRITE_BACK_KEY_PREFIX = "triage:"


def is_write_back(payload: dict[str, Any], idempotency_key: str) -> bool:
    """Did a model write this event? Such events never become labels."""
    return payload.get("model") is not None or idempotency_key.startswith(WRITE_BACK_KEY_PREFIX)


@dataclass(frozen=True)
class Event:
    """An event as stored in the log."""

    tenant_id: str
    seq: int
    id: str
    type: str
    occurred_at: datetime
    recorded_at: datetime
    payload: dict[str, Any]
    idempotency_key: str
    hash: str
    ticket_id: str | None = None
    subject: str | None = None
    redacted_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
