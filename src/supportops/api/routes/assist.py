"""The answer assistant: similar tickets, drafted answers with sources, agent feedback."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from supportops.api.deps import allow
from supportops.api.errors import ERRORS
from supportops.api.schemas import Envelope
from supportops.workspace import Tenant

router = APIRouter(prefix="/v1/assist", tags=["assist"], responses=ERRORS)
Agent = Annotated[Tenant, Depends(allow("assist", "admin", "agent"))]


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=20_000)
    ticket_id: str | None = Field(None, min_length=1, max_length=200, description=(
        "A ticket of the key's tenant: the draft is then announced to 'draft.ready' "
        "webhooks."))


class AssistFeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer_id: str = Field(min_length=1, max_length=100)
    verdict: Literal["used", "edited", "rejected"] = "used"
    comment: str | None = Field(None, max_length=2000)


@router.get("/similar", operation_id="assist_similar", response_model=Envelope)
def similar(tenant: Agent,
            ticket_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
            text: Annotated[str | None, Query(min_length=1, max_length=20_000)] = None,
            limit: Annotated[int, Query(ge=1, le=50)] = 5) -> dict[str, Any]:
    """Resolved tickets and articles like a ticket or a text, best first."""
    data = tenant.assist.similar(ticket_id=ticket_id, text=text, limit=limit)
    return {"data": data, "count": len(data)}


@router.post("/answer", operation_id="assist_answer")
def answer(tenant: Agent, body: AnswerIn) -> dict[str, Any]:
    """A drafted reply with its sources, confidence, or an abstention with a hand-off."""
    return tenant.assist.answer(body.text, body.ticket_id)


@router.post("/feedback", operation_id="assist_feedback")
def feedback(tenant: Agent, body: AssistFeedbackIn) -> dict[str, Any]:
    """Record whether the agent used, edited or rejected a draft."""
    result: dict[str, Any] = tenant.assist.feedback(body.answer_id, body.verdict, body.comment)
    return result
