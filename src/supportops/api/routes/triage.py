"""Triage: predict with the champion (feedback is in :mod:`supportops.api.routes.feedback`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from supportops.api.batching import Batcher
from supportops.api.deps import allow
from supportops.api.errors import ERRORS
from supportops.api.schemas import TriageIn, TriageOut
from supportops.workspace import Tenant

router = APIRouter(prefix="/v1/triage", tags=["triage"], responses=ERRORS)
Predictor = Annotated[Tenant, Depends(allow("triage", "admin", "agent", "ml_engineer"))]


@router.post("", operation_id="triage", response_model=TriageOut)
async def triage(tenant: Predictor, body: TriageIn, request: Request) -> dict[str, Any]:
    """Category (or group, priority...) of a ticket text; the text is pseudonymised first.
    Concurrent requests for one model are scored together in one batch."""
    batcher: Batcher = request.app.state.batcher
    record = await batcher.triage(tenant, body.text, body.model, body.fields)
    if body.ticket_id is not None:  # the webhook announcement reads the database
        await run_in_threadpool(tenant.triage.announce, body.ticket_id, record)
    return record
