"""Support analytics: the report, root-cause clusters and per-priority SLA targets."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from supportops.api.deps import allow
from supportops.api.errors import ERRORS
from supportops.api.schemas import SlaTargetIn, SlaTargetList, SlaTargetOut
from supportops.errors import NotFound
from supportops.workspace import Tenant

router = APIRouter(prefix="/v1/analytics", tags=["analytics"], responses=ERRORS)
Reader = Annotated[Tenant, Depends(allow("analytics", "admin", "analyst", "ml_engineer"))]
#: Setting and removing SLA targets is the admin's, as in ``supportops analytics sla``.
Admin = Annotated[Tenant, Depends(allow("analytics", "admin"))]
Priority = Annotated[str, Path(min_length=1, max_length=64, description=(
    "Priority name as tickets carry it, e.g. '1 - Critical'."))]
Breakdown = Literal["priority", "category", "group", "channel", "agent"]
Period = Literal["day", "week", "month"]
#: The window every analytics read takes: tickets opened in ``[from, to)``.
From = Annotated[str | None, Query(alias="from", max_length=40, description=(
    "Tickets opened on/after (ISO date)."))]
To = Annotated[str | None, Query(alias="to", max_length=40, description=(
    "Tickets opened before (ISO date)."))]


@router.get("/report", operation_id="analytics_report")
def report(
    tenant: Reader,
    start: From = None,
    end: To = None,
    by: Annotated[list[Breakdown] | None, Query()] = None,
    period: Period = "week",
    top: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> dict[str, Any]:
    """Resolution and response times, SLA, backlog, reassignments, process paths."""
    return tenant.analytics.report(start=start, end=end, period=period, by=by or [], top=top)


@router.get("/clusters", operation_id="analytics_clusters")
def clusters(
    tenant: Reader,
    start: From = None,
    end: To = None,
    method: Literal["kmeans", "hdbscan"] = "kmeans",
    k: Annotated[int | None, Query(ge=2, le=1000, description=(
        "Clusters for k-means [default: sqrt(n/2)]."))] = None,
    period: Period = "week",
    top: Annotated[int, Query(ge=1, le=1000, description="Clusters to list.")] = 20,
) -> dict[str, Any]:
    """Root-cause clusters of ticket texts, named by distinctive terms, with their trend
    per period and emerging flags."""
    return tenant.analytics.clusters(start=start, end=end, method=method, k=k, period=period,
                                     top=top)


@router.get("/sla", operation_id="list_sla_targets", response_model=SlaTargetList)
def sla_targets(tenant: Reader) -> dict[str, Any]:
    """The tenant's SLA targets, by priority name."""
    data = [vars(t) for t in tenant.analytics.sla_targets()]
    return {"data": data, "count": len(data)}


@router.put("/sla/{priority}", operation_id="set_sla_target", response_model=SlaTargetOut)
def set_sla_target(tenant: Admin, priority: Priority, body: SlaTargetIn) -> dict[str, Any]:
    """Set (or replace) the SLA target of one priority."""
    target = tenant.analytics.set_sla_target(
        priority, first_response_hours=body.first_response_hours,
        resolution_hours=body.resolution_hours)
    return vars(target)


@router.delete("/sla/{priority}", operation_id="remove_sla_target")
def remove_sla_target(tenant: Admin, priority: Priority) -> dict[str, Any]:
    """Remove the SLA target of one priority; 404 when it has none."""
    if not tenant.analytics.remove_sla_target(priority):
        raise NotFound(f"Priority {priority!r} has no SLA target in tenant {tenant.id!r}.")
    return {"priority": priority, "removed": True}
