"""Monitoring: live status of served models, and a check that raises alarms."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from supportops.api.deps import allow
from supportops.api.errors import ERRORS
from supportops.workspace import Tenant

router = APIRouter(prefix="/v1/monitor", tags=["monitor"], responses=ERRORS)
Reader = Annotated[Tenant, Depends(allow("monitor", "admin", "ml_engineer", "analyst"))]
Engineer = Annotated[Tenant, Depends(allow("monitor", "admin", "ml_engineer"))]


@router.get("/status", operation_id="monitor_status")
def status(tenant: Reader, name: Annotated[str | None, Query(max_length=200)] = None,
           since: datetime | None = None) -> dict[str, Any]:
    """Per model: champion, challenger, live figures, accuracy from feedback, alarms; the
    assistant's drafts as agents judged them (from 'since' on)."""
    result: dict[str, Any] = tenant.monitor.status(name, since)
    return result


@router.post("/{name}/check", operation_id="monitor_check")
def check(tenant: Engineer, name: str) -> dict[str, Any]:
    """Check the champion's live figures; new alarms go to 'alarm.raised' webhooks."""
    return tenant.monitor.check(name)
