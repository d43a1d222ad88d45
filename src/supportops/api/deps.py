"""Shared dependencies: who is calling (from the bearer key alone) and may they.

Every route declares its scope and roles through :func:`allow`; the tenant handle it gets is
the key's, never one named by the path or the body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from supportops.errors import PermissionDenied, SupportopsError
from supportops.governance.context import Role
from supportops.workspace import Tenant, Workspace

bearer = HTTPBearer(auto_error=False, description="An API key: 'so_<tenant>_<secret>' for a "
                    "tenant's principal, 'sow_<secret>' for the workspace admin.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


class Unauthenticated(SupportopsError):
    """No key, or a key that is not (or no longer) valid."""

    http_status = 401
    code = "unauthenticated"


def workspace_of(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


def _key(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("This endpoint needs an API key: send 'Authorization: Bearer "
                              "<key>' (create one with 'supportops principals create').")
    return credentials.credentials


def authenticated(request: Request, credentials: BearerDep) -> Tenant:
    """The tenant handle of the bearer key; one handle per principal is kept, so that what a
    handle caches (a loaded model) outlives the request, while the key is checked anew on
    every request (a disabled or rotated key stops at once)."""
    try:
        fresh = workspace_of(request).authenticate(_key(credentials))
    except PermissionDenied as err:
        raise Unauthenticated(str(err)) from None
    handles: dict[Any, Tenant] = request.app.state.handles
    return handles.setdefault(fresh.ctx, fresh)


def allow(scope: str, *roles: Role) -> Callable[..., Tenant]:
    """A dependency: the caller's tenant handle, if its key holds ``scope`` and its role is
    one of ``roles``; 403 otherwise."""
    def check(tenant: Annotated[Tenant, Depends(authenticated)]) -> Tenant:
        tenant.ctx.require_scope(scope)
        tenant.ctx.require(*roles, action=f"use the {scope!r} endpoints")
        return tenant
    return check


def workspace_admin(request: Request, credentials: BearerDep) -> Workspace:
    """The workspace, for a workspace-admin key only."""
    ws = workspace_of(request)
    key = _key(credentials)
    try:
        ws.authenticate_admin(key)
    except PermissionDenied as err:
        if key.startswith("sow_"):
            raise Unauthenticated(str(err)) from None
        raise
    return ws


AdminDep = Annotated[Workspace, Depends(workspace_admin)]
