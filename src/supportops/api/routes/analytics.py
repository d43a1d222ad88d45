"""The support analytics report."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from supportops.api.deps import allow
from supportops.api.errors import ERRORS
from supportops.workspace import Tenant

router = APIRouter(prefix="/v1/analytics", tags=["analytics"], responses=ERRORS)
Reader = Annotated[Tenant, Depends(allow("analytics", "admin", "analyst", "ml_engineer"))]
Breakdown = Literal["priority", "category", "group", "channel", "agent"]


@router.get("/report", operation_id="analytics_report")
def report(
    tenant: Reader,
    start: Annotated[str | None, Query(alias="from", max_length=40, description=(
        "Tickets opened on/after (ISO date)."))] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40, description=(
        "Tickets opened before (ISO date)."))] = None,
    by: Annotated[list[Breakdown] | None, Query()] = None,
    period: Literal["day", "week", "month"] = "week",
    top: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> dict[str, Any]:
    """Resolution and response times, SLA, backlog, reassignments, process paths."""
    return tenant.report(start=start, end=end, period=period, by=by or [], top=top)
