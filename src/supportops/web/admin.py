"""The admin page: principals (people and API keys) and their roles, and outgoing webhooks.
Create a key (shown once), change a role, rotate a key, disable a principal; subscribe a URL
to event types (its signing secret shown once), remove it, see recent deliveries. The rooms
check the admin role and audit every change."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from supportops.governance.context import ROLES
from supportops.web.core import PREFIX, Console, Visit, attempt, required, route_class
from supportops.webhooks import EVENT_TYPES

FormStr = Annotated[str | None, Form()]
FormList = Annotated[list[str] | None, Form()]
#: Recent webhook deliveries shown on the page.
DELIVERIES = 20


def _page(console: Console, visit: Visit, **context: Any) -> Response:
    hooks = visit.tenant.webhooks
    return console.render(visit.request, "admin.html", visit, roles=ROLES,
                          principals=visit.tenant.principals.list(), event_types=EVENT_TYPES,
                          hooks=attempt(hooks.list),
                          deliveries=attempt(lambda: hooks.deliveries(limit=DELIVERIES)),
                          **context)


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
        principal, key = visit.tenant.principals.create(required(name, "name"),
                                                       required(role, "role"), kind or "api_key")
        return _page(console, visit, created=principal.name, new_key=key)

    @pages.post("/admin/principals/{name}/role", include_in_schema=False)
    def change_role(request: Request, name: str, csrf: FormStr = None,
                    role: FormStr = None) -> Response:
        visit = console.checked(request, csrf)
        before = visit.tenant.principals.set_role(name, required(role, "role"))
        return _page(console, visit, message=f"{name}: role {before} -> {role}.")

    @pages.post("/admin/principals/{name}/rotate", include_in_schema=False)
    def rotate(request: Request, name: str, csrf: FormStr = None) -> Response:
        """A fresh key for ``name``; the old one stops working at once."""
        visit = console.checked(request, csrf)
        return _page(console, visit, created=name, new_key=visit.tenant.principals.rotate_key(name))

    @pages.post("/admin/principals/{name}/disable", include_in_schema=False)
    def disable(request: Request, name: str, csrf: FormStr = None) -> Response:
        visit = console.checked(request, csrf)
        visit.tenant.principals.disable(name)
        return _page(console, visit, message=f"{name} is disabled; its key no longer works.")

    @pages.post("/admin/webhooks", include_in_schema=False)
    def subscribe(request: Request, csrf: FormStr = None, url: FormStr = None,
                  event_types: FormList = None) -> Response:
        """Subscribe a URL; its signing secret is shown once."""
        visit = console.checked(request, csrf)
        hook = visit.tenant.webhooks.subscribe(required(url, "url"), event_types or [])
        return _page(console, visit, subscribed=hook)

    @pages.post("/admin/webhooks/{webhook_id}/remove", include_in_schema=False)
    def remove(request: Request, webhook_id: str, csrf: FormStr = None) -> Response:
        visit = console.checked(request, csrf)
        visit.tenant.webhooks.remove(webhook_id)
        return _page(console, visit, message=f"Webhook {webhook_id} removed.")

    return pages
