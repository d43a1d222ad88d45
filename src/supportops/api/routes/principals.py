"""Principals and their keys: create, change role, disable, rotate (admin; audited)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from supportops.api.deps import allow
from supportops.api.errors import ERRORS
from supportops.api.schemas import Envelope, KeyOut, PrincipalCreated, PrincipalIn, RoleIn
from supportops.workspace import Tenant

router = APIRouter(prefix="/v1/principals", tags=["principals"], responses=ERRORS)
Admin = Annotated[Tenant, Depends(allow("principals", "admin"))]


@router.get("", operation_id="list_principals", response_model=Envelope)
def list_principals(tenant: Admin) -> dict[str, Any]:
    """The tenant's principals (never their keys)."""
    data = [p.as_dict() for p in tenant.principals.list()]
    return {"data": data, "count": len(data)}


@router.post("", operation_id="create_principal", response_model=PrincipalCreated,
             status_code=201)
def create(tenant: Admin, body: PrincipalIn) -> dict[str, Any]:
    """Create a principal; its API key is in this answer only."""
    principal, key = tenant.principals.create(body.name, body.role, body.kind,
                                             scopes=body.scopes, expires_at=body.expires_at)
    return {**principal.as_dict(), "api_key": key}


@router.patch("/{name}", operation_id="set_principal_role")
def set_role(tenant: Admin, name: str, body: RoleIn) -> dict[str, Any]:
    """Give a principal another role."""
    return {"name": name, "role": body.role,
            "previous": tenant.principals.set_role(name, body.role)}


@router.post("/{name}/disable", operation_id="disable_principal")
def disable(tenant: Admin, name: str) -> dict[str, Any]:
    """Disable a principal; its key stops working at once."""
    tenant.principals.disable(name)
    return {"name": name, "disabled": True}


@router.post("/{name}/rotate", operation_id="rotate_key", response_model=KeyOut)
def rotate(tenant: Admin, name: str) -> dict[str, Any]:
    """A fresh key for an API-key principal; the old one stops working at once."""
    return {"name": name, "api_key": tenant.principals.rotate_key(name)}
