"""Request and response bodies: Create / Public shapes and the list envelope ``{data, count}``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from supportops.governance.context import Role

Strict = ConfigDict(extra="forbid")


class Envelope(BaseModel):
    """A list: the items and how many there are in this answer."""

    data: list[Any]
    count: int


class TicketPage(Envelope):
    next_cursor: str | None = Field(description="Pass as 'cursor' for the next page; null "
                                    "on the last one.")


class EventsIn(BaseModel):
    """A batch of native events, as the lines of a JSON Lines file."""

    model_config = Strict
    events: list[Any] = Field(min_length=1, max_length=10_000)
    strict: bool = Field(False, description="All or nothing: one bad record refuses all.")


class RecordErrorOut(BaseModel):
    record: int
    field: str
    message: str


class IngestOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    errors: list[RecordErrorOut]
    errors_omitted: int | None = None


class TriageIn(BaseModel):
    model_config = Strict
    text: str = Field(min_length=1, max_length=100_000)
    model: str = Field("triage", min_length=1, max_length=200)
    ticket_id: str | None = Field(None, min_length=1, max_length=200, description=(
        "A ticket of the key's tenant: the prediction is then announced to 'ticket.triaged' "
        "webhooks."))
    fields: dict[str, str | int | float | None] = Field(default_factory=dict, description=(
        "Structured fields of the ticket (channel, priority, ...) for field models."))


class TriageOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    label: str | None
    confidence: float
    abstained: bool
    model: str
    version: str | None


class FeedbackIn(BaseModel):
    model_config = Strict
    final: str = Field(min_length=1, max_length=200)
    model: str = Field("triage", min_length=1, max_length=200)
    predicted: str | None = Field(None, max_length=200)
    version: str | None = Field(None, max_length=64)


class DatasetIn(BaseModel):
    model_config = Strict
    name: str = Field(min_length=1, max_length=100)
    require: str | None = Field(None, max_length=64)


class PromoteIn(BaseModel):
    model_config = Strict
    version: str = Field(min_length=1, max_length=64)
    alias: Literal["champion", "challenger"] = "champion"
    #: Promote to champion even when the version is not significantly better on feedback.
    force: bool = False


class SubjectIn(BaseModel):
    model_config = Strict
    subject: str = Field(min_length=1, max_length=200, description="Customer id as it "
                         "appeared in the input, or its pseudonym.")
    reason: str | None = Field(None, max_length=1000)


class EraseIn(BaseModel):
    model_config = Strict
    subject: str = Field(min_length=1, max_length=200)
    kind: Literal["customer", "agent", "employee"] = "customer"
    retrain: bool = False


class PrincipalIn(BaseModel):
    model_config = Strict
    name: str = Field(min_length=1, max_length=200)
    role: Role
    kind: Literal["api_key", "person"] = "api_key"
    scopes: list[str] | None = Field(None, description="Restrict the key to these scopes.")
    expires_at: datetime | None = Field(None, description="When the key stops working.")


class PrincipalOut(BaseModel):
    id: str
    name: str
    role: Role
    kind: str
    scopes: list[str] | None
    expires_at: datetime | None
    disabled_at: datetime | None
    created_at: datetime


class PrincipalCreated(PrincipalOut):
    api_key: str | None = Field(description="Shown once; only its hash is kept.")


class RoleIn(BaseModel):
    model_config = Strict
    role: Role


class KeyOut(BaseModel):
    name: str
    api_key: str = Field(description="The new key, shown once; the old one no longer works.")


class WebhookIn(BaseModel):
    model_config = Strict
    url: str = Field(min_length=1, max_length=2000)
    event_types: list[Literal["ticket.triaged", "draft.ready", "alarm.raised",
                              "erasure.completed"]] = Field(min_length=1)


class TenantIn(BaseModel):
    model_config = Strict
    id: str = Field(min_length=1, max_length=63)
    name: str | None = Field(None, max_length=200)


class TenantOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    events: int


class SlaTargetIn(BaseModel):
    """Hours allowed for one priority (the priority is the path's); at least one of them."""

    model_config = Strict
    first_response_hours: float | None = Field(
        None, gt=0, allow_inf_nan=False,
        description="Hours from opening to the first public agent reply.")
    resolution_hours: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="Hours from opening to resolution.")


class SlaTargetOut(BaseModel):
    priority: str
    first_response_hours: float | None
    resolution_hours: float | None


class SlaTargetList(Envelope):
    data: list[SlaTargetOut]
