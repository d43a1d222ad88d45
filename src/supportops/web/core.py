"""What every console page shares: the signed-in visit, CSRF checks, rendering, error pages.

Pages are thin: each calls ``Tenant`` methods and facades and renders the answer. A library
error becomes a page naming the problem, with the status the API would give it; a missing or
stale session sends the browser to the sign-in page.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from supportops.errors import PermissionDenied, SupportopsError, ValidationFailed
from supportops.web.session import SESSION_COOKIE, Session, SessionCodec, same_token
from supportops.workspace import Tenant, Workspace

T = TypeVar("T")
PREFIX = "/console"
#: Tenant handles kept per signed-in key (they hold loaded models); re-checked every request.
_CACHE_SIZE = 64
#: Headers on every console response: no framing, no inline script, no sniffing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SignInRequired(Exception):
    """No valid session: the browser goes to the sign-in page."""


@dataclass(frozen=True)
class Visit:
    """One signed-in request: who acts (the key's tenant and role) and the session's token."""

    request: Request
    tenant: Tenant
    session: Session

    @property
    def role(self) -> str:
        return self.tenant.ctx.role


class Console:
    """The workspace, the cookie codec and the templates the pages share."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.codec = SessionCodec(workspace.secret("supportops console session v1"))
        folder = resources.files("supportops.web") / "templates"
        self.templates = Jinja2Templates(directory=str(folder))
        self._handles: dict[str, Tenant] = {}
        self._lock = threading.Lock()

    def tenant_for(self, api_key: str) -> Tenant:
        """The key's tenant handle; authenticated anew each time (a disabled key stops at once)
        but the handle, with its loaded models, is reused while tenant and role are unchanged."""
        fresh = self.workspace.authenticate(api_key)
        with self._lock:
            cached = self._handles.get(api_key)
            if cached is not None and cached.ctx == fresh.ctx:
                return cached
            if len(self._handles) >= _CACHE_SIZE:
                self._handles.pop(next(iter(self._handles)))
            self._handles[api_key] = fresh
        return fresh

    def visit(self, request: Request) -> Visit:
        session = self.codec.open(request.cookies.get(SESSION_COOKIE))
        if session is None:
            raise SignInRequired
        try:
            return Visit(request, self.tenant_for(session.api_key), session)
        except PermissionDenied:
            raise SignInRequired from None

    def checked(self, request: Request, csrf: str | None) -> Visit:
        """A visit whose form carries this session's CSRF token (every state change)."""
        visit = self.visit(request)
        if not same_token(visit.session.csrf, csrf):
            raise PermissionDenied("This form's security token is missing or stale; reload the "
                                   "page and submit it again.")
        return visit

    def render(self, request: Request, template: str, visit: Visit | None = None,
               status_code: int = 200, **context: Any) -> HTMLResponse:
        context.update(visit=visit, prefix=PREFIX,
                       csrf=visit.session.csrf if visit else context.get("csrf"))
        return self.templates.TemplateResponse(request, template, context, status_code=status_code)


def attempt(call: Callable[[], T]) -> tuple[T | None, str | None]:
    """``call()`` or the reason it was refused: one section of a page may be closed to a role
    while the rest of the page works."""
    try:
        return call(), None
    except SupportopsError as err:
        return None, str(err)


def route_class(console: Console) -> type[APIRoute]:
    """Routes whose library errors render as pages and whose responses carry the headers."""

    class ConsoleRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                try:
                    response = await handler(request)
                except SignInRequired:
                    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
                except SupportopsError as err:
                    status = err.http_status if err.http_status < 500 else 500
                    response = console.render(request, "error.html", status_code=status,
                                              message=str(err), code=err.code)
                response.headers.update(SECURITY_HEADERS)
                return response

            return handle

    return ConsoleRoute


def required(value: str | None, field: str) -> str:
    """A form field that must be given, or a clear error naming it."""
    if value is None or not value.strip():
        raise ValidationFailed(f"The form field {field!r} is required; fill it in and submit "
                               "again.")
    return value.strip()
