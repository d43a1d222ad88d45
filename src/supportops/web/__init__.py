"""The web console: server-rendered pages over the same ``Tenant`` calls as the CLI and API.

    app = FastAPI()
    mount_console(app, workspace)          # pages under /console, assets under /console/static

Sign-in takes an API key (tenant and role come from it) into a sealed, HttpOnly, SameSite=Strict
session cookie; every form carries a CSRF token. ``supportops.api.create_app`` mounts it;
``console_app`` serves the console alone.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from supportops.web import admin, analytics, auth, models, privacy, tickets, triage
from supportops.web.core import PREFIX, Console
from supportops.workspace import Workspace

__all__ = ["PREFIX", "console_app", "mount_console"]


def mount_console(app: FastAPI, workspace: Workspace) -> None:
    """Add the console's pages and assets to ``app`` (none appear in the OpenAPI document)."""
    console = Console(workspace)
    for room in (auth, triage, tickets, analytics, models, privacy, admin):
        app.include_router(room.router(console))
    static = resources.files("supportops.web") / "static"
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(static)), name="console-static")

    @app.get(f"{PREFIX}/", include_in_schema=False)
    def console_home() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/triage", status_code=303)

    @app.get(f"{PREFIX}", include_in_schema=False)
    def console_root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/triage", status_code=303)


def console_app(workspace: Workspace) -> FastAPI:
    """The console on its own (the REST API's ``create_app`` mounts it too)."""
    app = FastAPI(title="supportops console", docs_url=None, redoc_url=None)
    mount_console(app, workspace)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/triage", status_code=303)

    return app
