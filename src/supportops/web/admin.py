"""The admin page: principals (people and API keys) and their roles; create a key (shown
once), change a role, disable a principal. The governance room checks the admin role and
audits every change."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from supportops.governance import roles
from supportops.governance.context import ROLES
from supportops.web.core import PREFIX, Console, Visit, required, route_class

FormStr = Annotated[str | None, Form()]


def _page(console: Console, visit: Visit, **context: Any) -> Response:
    return console.render(visit.request, "admin.html", visit, roles=ROLES,
                          principals=visit.tenant.principals(), **context)


def router(console: Console) -> APIRouter:
    pages = APIRouter(prefix=PREFIX, route_class=route_class(console))

    @pages.get("/admin", include_in_schema=False)
    def admin_page(request: Request) -> Response:
        return _page(console, console.visit(request))

    @pages.post("/admin/principals", include_in_schema=False)
    def create(request: Request, csrf: FormStr = None, name: FormStr = None,
               role: FormStr = None, kind: FormStr = "api_key") -> Response:
        """A new principal; an API key is shown on this page once and never again."""
        visit = console.checked(request, csrf)
        principal, key = visit.tenant.create_principal(required(name, "name"),
                                                       required(role, "role"), kind or "api_key")
        return _page(console, visit, created=principal, new_key=key)

    @pages.post("/admin/principals/{name}/role", include_in_schema=False)
    def change_role(request: Request, name: str, csrf: FormStr = None,
                    role: FormStr = None) -> Response:
        visit = console.checked(request, csrf)
        before = roles.set_principal_role(visit.tenant.db, visit.tenant.ctx, name,
                                          required(role, "role"))
        return _page(console, visit, message=f"{name}: role {before} -> {role}.")

    @pages.post("/admin/principals/{name}/disable", include_in_schema=False)
    def disable(request: Request, name: str, csrf: FormStr = None) -> Response:
        visit = console.checked(request, csrf)
        roles.disable_principal(visit.tenant.db, visit.tenant.ctx, name)
        return _page(console, visit, message=f"{name} is disabled; its key no longer works.")

    return pages
