"""Tenants: the workspace admin's (a ``sow_`` key from ``supportops admin-key``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from supportops.api.deps import AdminDep
from supportops.api.errors import ERRORS
from supportops.api.schemas import Envelope, PrincipalCreated, PrincipalIn, TenantIn, TenantOut

router = APIRouter(prefix="/v1/tenants", tags=["tenants"], responses=ERRORS)


@router.get("", operation_id="list_tenants", response_model=Envelope)
def list_tenants(workspace: AdminDep) -> dict[str, Any]:
    """Every tenant with its event count."""
    data = [TenantOut(id=t.id, name=t.name, created_at=t.created_at, events=t.events)
            for t in workspace.tenants()]
    return {"data": data, "count": len(data)}


@router.post("", operation_id="create_tenant", response_model=TenantOut, status_code=201)
def create_tenant(workspace: AdminDep, body: TenantIn) -> TenantOut:
    """Create a tenant; give it its first admin with POST /v1/tenants/{id}/principals."""
    t = workspace.create_tenant(body.id, body.name)
    return TenantOut(id=t.id, name=t.name, created_at=t.created_at, events=t.events)


@router.post("/{tenant_id}/principals", operation_id="create_tenant_principal",
             response_model=PrincipalCreated, status_code=201)
def create_first_principal(workspace: AdminDep, tenant_id: str, body: PrincipalIn
                           ) -> dict[str, Any]:
    """Create a principal in a tenant as its owner (how a new tenant gets its first admin);
    the key is in this answer only."""
    principal, key = workspace.tenant(tenant_id).principals.create(
        body.name, body.role, body.kind, scopes=body.scopes, expires_at=body.expires_at)
    return {**principal.as_dict(), "api_key": key}
