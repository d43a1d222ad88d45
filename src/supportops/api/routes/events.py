"""``POST /v1/events``: one event or a batch, idempotent, per-record errors as the CLI's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from supportops.api.deps import allow
from supportops.api.errors import ERRORS
from supportops.api.schemas import EventsIn, IngestOut
from supportops.workspace import Tenant

router = APIRouter(prefix="/v1/events", tags=["events"], responses=ERRORS)
Writer = Annotated[Tenant, Depends(allow("events", "admin", "agent"))]


@router.post("", operation_id="ingest_event", response_model=IngestOut)
def ingest_one(
    tenant: Writer,
    event: Annotated[dict[str, Any], Body(description="One native event: type, "
                                          "occurred_at, ticket_id, subject, payload.")],
) -> dict[str, Any]:
    """Append one event (a repeat is counted as a duplicate, never stored twice)."""
    return tenant.ingest([event]).as_dict()


@router.post("/batch", operation_id="ingest_events", response_model=IngestOut)
def ingest_batch(tenant: Writer, body: EventsIn) -> dict[str, Any]:
    """Append a batch; bad records are reported by number and field, good ones kept."""
    return tenant.ingest(body.events, strict=body.strict).as_dict()
