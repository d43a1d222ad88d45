"""Shared dependencies: who is calling (from the bearer key alone) and may they.

Every route declares its scope and roles through :func:`allow`; the tenant handle it gets is
the key's, never one named by the path or the body.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

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


class Clock:
    """The time the key check reads: ``monotonic()`` ages the cache's answers, ``now()``
    decides whether a key has expired. ``create_app(clock=...)`` takes another, so that a
    caller (a test) can move time on instead of waiting for it."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)


class KeyCache:
    """Recent answers of the key check, for ``ttl`` seconds per key hash (1 s by default).

    A request costs a hash and a dict look-up instead of a database round trip; a disabled,
    rotated or expired key stops working within ``ttl``, and at once when the change went
    through this process's workspace (an answer holds only for the ``generation`` of
    :attr:`Workspace.principals_changed` it was given under). Only hashes are kept, never keys.
    Seconds are those of ``clock`` (:class:`Clock` by default).
    """

    def __init__(self, ttl: float = 1.0, size: int = 10_000, clock: Clock | None = None
                 ) -> None:
        self.ttl, self.size = ttl, size
        self.clock = clock or Clock()
        self._seen: dict[str, tuple[float, int, Tenant | PermissionDenied]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, digest: str) -> asyncio.Lock:
        """The lock under which ``digest`` is checked against the database."""
        if len(self._locks) >= self.size:
            self._locks = {k: v for k, v in self._locks.items() if v.locked()}
        return self._locks.setdefault(digest, asyncio.Lock())

    def get(self, digest: str, generation: int = 0) -> Tenant | PermissionDenied | None:
        found = self._seen.get(digest)
        if found is None or found[0] <= self.clock.monotonic() or found[1] != generation:
            return None
        return found[2]

    def put(self, digest: str, answer: Tenant | PermissionDenied, generation: int = 0) -> None:
        now = self.clock.monotonic()
        if len(self._seen) >= self.size:
            self._seen = {k: v for k, v in self._seen.items() if v[0] > now}
            if len(self._seen) >= self.size:
                self._seen.clear()
        self._seen[digest] = (now + self.ttl, generation, answer)


async def authenticated(request: Request, credentials: BearerDep) -> Tenant:
    """The tenant handle of the bearer key; one handle per principal is kept, so that what a
    handle caches (a loaded model) outlives the request. The key's check is remembered for
    a second (:class:`KeyCache`); the database is asked, off the event loop, after that."""
    key = _key(credentials)
    cache: KeyCache = request.app.state.key_cache
    digest = hashlib.sha256(key.encode()).hexdigest()
    workspace = workspace_of(request)
    answer = cache.get(digest, workspace.principals_changed)
    if answer is None:
        # one database check per key at a time: requests arriving meanwhile share it
        async with cache.lock(digest):
            generation = workspace.principals_changed  # read before the database is
            answer = cache.get(digest, generation)
            if answer is None:
                try:
                    fresh = await run_in_threadpool(workspace.authenticate, key,
                                                    cache.clock.now())
                except PermissionDenied as err:
                    answer = err
                else:
                    handles: dict[Any, Tenant] = request.app.state.handles
                    answer = handles.setdefault(fresh.ctx, fresh)
                cache.put(digest, answer, generation)
    if isinstance(answer, PermissionDenied):
        raise Unauthenticated(str(answer)) from None
    return answer


def allow(scope: str, *roles: Role) -> Callable[..., Awaitable[Tenant]]:
    """A dependency: the caller's tenant handle, if its key holds ``scope`` and its role is
    one of ``roles``; 403 otherwise."""
    async def check(tenant: Annotated[Tenant, Depends(authenticated)]) -> Tenant:
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
