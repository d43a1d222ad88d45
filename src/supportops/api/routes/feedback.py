"""Triage feedback: an agent accepts or corrects a prediction (``tenant.triage.feedback``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from supportops.api.deps import allow
from supportops.api.errors import ERRORS
from supportops.api.schemas import FeedbackIn
from supportops.workspace import Tenant

router = APIRouter(prefix="/v1/triage", tags=["triage"], responses=ERRORS)
Agent = Annotated[Tenant, Depends(allow("triage", "admin", "agent"))]


def _feedback(tenant: Tenant, ticket_id: str, body: FeedbackIn, action: str) -> dict[str, Any]:
    result: dict[str, Any] = tenant.triage.feedback(
        ticket_id, name=body.model, final=body.final, predicted=body.predicted,
        version=body.version, action=action)
    return result


@router.post("/{ticket_id}/accept", operation_id="triage_accept")
def accept(tenant: Agent, ticket_id: str, body: FeedbackIn) -> dict[str, Any]:
    """Record that the agent kept the predicted label (feeds live accuracy)."""
    return _feedback(tenant, ticket_id, body, "accept")


@router.post("/{ticket_id}/correct", operation_id="triage_correct")
def correct(tenant: Agent, ticket_id: str, body: FeedbackIn) -> dict[str, Any]:
    """Record the agent's correction of a prediction (feeds live accuracy and retraining)."""
    return _feedback(tenant, ticket_id, body, "correct")
