"""Privacy: opt-out and opt-in, erasure and its reports, reveal (all audited)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from supportops.api.deps import allow
from supportops.api.errors import ERRORS
from supportops.api.schemas import Envelope, EraseIn, SubjectIn
from supportops.workspace import Tenant

router = APIRouter(prefix="/v1/privacy", tags=["privacy"], responses=ERRORS)
Opting = Annotated[Tenant, Depends(allow("privacy", "admin", "privacy_officer", "agent"))]
Officer = Annotated[Tenant, Depends(allow("privacy", "admin", "privacy_officer"))]
Revealer = Annotated[Tenant, Depends(allow("privacy", "agent", "privacy_officer"))]
Kind = Literal["customer", "agent", "employee"]


@router.post("/opt-out", operation_id="opt_out")
def opt_out(tenant: Opting, body: SubjectIn) -> dict[str, Any]:
    """Opt a customer out of model training (an event; audited)."""
    return dict(tenant.privacy.opt_out(body.subject, body.reason))


@router.post("/opt-in", operation_id="opt_in")
def opt_in(tenant: Opting, body: SubjectIn) -> dict[str, Any]:
    """Opt a customer back into model training (an event; audited)."""
    return dict(tenant.privacy.opt_in(body.subject, body.reason))


@router.get("/opted-out", operation_id="opted_out", response_model=Envelope)
def opted_out(tenant: Officer, as_of: Annotated[int | None, Query(ge=0)] = None
              ) -> dict[str, Any]:
    """Subjects (tokens) opted out of training, now or at a log position."""
    tokens = sorted(tenant.privacy.opted_out(as_of))
    return {"data": tokens, "count": len(tokens)}


@router.post("/erase", operation_id="erase_subject")
def erase(tenant: Officer, body: EraseIn) -> dict[str, Any]:
    """Erase a subject everywhere and report what was touched and what is pending."""
    return tenant.privacy.erase(body.subject, body.kind, retrain=body.retrain)


@router.get("/reports", operation_id="erasure_reports", response_model=Envelope)
def reports(tenant: Officer, subject: Annotated[str, Query(min_length=1, max_length=200)],
            kind: Kind = "customer") -> dict[str, Any]:
    """The stored erasure reports of a subject, oldest first."""
    data = tenant.privacy.reports(subject, kind)
    return {"data": data, "count": len(data)}


@router.get("/reveal/{ticket_id}", operation_id="reveal_ticket")
def reveal(tenant: Revealer, ticket_id: str) -> dict[str, Any]:
    """A ticket's events with original values (agent, privacy_officer; audited)."""
    return tenant.privacy.reveal(ticket_id)
