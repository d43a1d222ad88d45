"""``create_app(workspace)``: the REST API under ``/v1`` (and the console, when installed).

Authentication: ``Authorization: Bearer <key>``. A tenant key (``so_<tenant>_<secret>``,
from ``supportops principals create`` or ``POST /v1/principals``) acts in its own tenant
with its principal's role and the key's scopes; the tenant is never taken from the request.
A workspace-admin key (``sow_<secret>``, from ``supportops admin-key``) may only create and
list tenants and give a new tenant its first principal. ``/openapi.json``, ``/docs``,
``/v1/health`` and ``/v1/version`` answer without a key.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from supportops.api import errors
from supportops.api.batching import Batcher
from supportops.api.deps import Clock, KeyCache
from supportops.api.dispatcher import Dispatcher
from supportops.api.nul import RefuseNul
from supportops.api.routes import (
    analytics,
    assist,
    events,
    feedback,
    governance,
    meta,
    models,
    monitor,
    principals,
    privacy,
    tenants,
    tickets,
    triage,
    webhooks,
)
from supportops.version import __version__
from supportops.webhooks.service import Transport, urllib_transport
from supportops.workspace import Workspace

ROUTERS = (meta, events, tickets, triage, feedback, assist, analytics, models, monitor,
           privacy, governance, principals, webhooks, tenants)


def create_app(workspace: Workspace, *, webhook_interval: float = 0.5,
               webhook_transport: Transport = urllib_transport,
               clock: Clock | None = None) -> FastAPI:
    """The API over ``workspace``; webhooks are delivered by a thread while it serves. The
    key check reads the time from ``clock`` (the system's by default)."""
    dispatcher = Dispatcher(workspace, webhook_interval, webhook_transport)
    batcher = Batcher()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        dispatcher.start()
        try:
            yield
        finally:
            dispatcher.stop()
            batcher.close()

    app = FastAPI(title="supportops", version=__version__, lifespan=lifespan,
                  description=__doc__, openapi_url="/openapi.json")
    app.state.workspace = workspace
    app.state.handles = {}
    app.state.batcher = batcher
    app.state.key_cache = KeyCache(clock=clock)
    app.state.dispatcher = dispatcher
    errors.install(app)
    app.add_middleware(RefuseNul)
    for module in ROUTERS:
        app.include_router(module.router)
    _mount_console(app, workspace)
    return app


def _mount_console(app: FastAPI, workspace: Workspace) -> None:
    """The web console, when the ``supportops.web`` room is installed."""
    if importlib.util.find_spec("supportops.web") is None:
        return
    importlib.import_module("supportops.web").mount_console(app, workspace)
