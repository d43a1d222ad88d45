"""Outgoing webhooks of the key's tenant (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from supportops.api.deps import allow
from supportops.api.errors import ERRORS
from supportops.api.schemas import Envelope, WebhookIn
from supportops.workspace import Tenant

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=ERRORS)
Admin = Annotated[Tenant, Depends(allow("webhooks", "admin"))]


@router.get("", operation_id="list_webhooks", response_model=Envelope)
def list_webhooks(tenant: Admin) -> dict[str, Any]:
    """Subscriptions (never their secrets)."""
    data = tenant.webhooks.list()
    return {"data": data, "count": len(data)}


@router.post("", operation_id="subscribe_webhook", status_code=201)
def subscribe(tenant: Admin, body: WebhookIn) -> dict[str, Any]:
    """Subscribe a URL to event types; the answer holds the signing secret."""
    result: dict[str, Any] = tenant.webhooks.subscribe(body.url, list(body.event_types))
    return result


@router.get("/deliveries", operation_id="list_deliveries", response_model=Envelope)
def deliveries(tenant: Admin,
               webhook_id: Annotated[str | None, Query(max_length=36)] = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Recorded deliveries, newest first: status, attempts, last answer."""
    data = tenant.webhooks.deliveries(webhook_id, limit)
    return {"data": data, "count": len(data)}


@router.delete("/{webhook_id}", operation_id="remove_webhook")
def remove(tenant: Admin, webhook_id: str) -> dict[str, Any]:
    """Stop a subscription (its deliveries stay recorded)."""
    result: dict[str, Any] = tenant.webhooks.remove(webhook_id)
    return result
