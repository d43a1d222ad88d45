"""Audit (list, verify) and lineage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from supportops.api.deps import allow
from supportops.api.errors import ERRORS
from supportops.api.schemas import Envelope
from supportops.workspace import Tenant

router = APIRouter(prefix="/v1", responses=ERRORS)
Auditor = Annotated[Tenant, Depends(allow("audit", "admin", "privacy_officer"))]
Tracer = Annotated[Tenant, Depends(allow("lineage", "admin", "privacy_officer",
                                         "ml_engineer"))]
Text = Annotated[str | None, Query(max_length=200)]


@router.get("/audit", operation_id="list_audit", tags=["audit"], response_model=Envelope)
def list_audit(
    tenant: Auditor, actor: Text = None, action: Text = None, subject: Text = None,
    since: datetime | None = None, until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> dict[str, Any]:
    """Audit entries oldest first, by actor, action (prefix with '*'), subject and time."""
    rows = tenant.audit.list(actor=actor, action=action, subject=subject, since=since,
                                until=until, limit=limit)
    data = [e.as_dict() for e in rows]
    return {"data": data, "count": len(data)}


@router.get("/audit/verify", operation_id="verify_audit", tags=["audit"])
def verify(tenant: Auditor) -> dict[str, Any]:
    """Check the event log and the keyed audit chain; 'ok' false names the first problem."""
    result: dict[str, Any] = tenant.audit.verify().as_dict()
    return result


@router.get("/lineage", operation_id="lineage", tags=["lineage"])
def lineage(tenant: Tracer, subject: Text = None, snapshot: Text = None,
            model: Text = None) -> dict[str, Any]:
    """Where data went: give exactly one of subject, snapshot, model (NAME@VERSION)."""
    return tenant.lineage.of(subject=subject, snapshot=snapshot, model=model)
