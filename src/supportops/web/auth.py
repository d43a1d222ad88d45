"""Sign-in with an API key into a sealed session cookie, and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from supportops.errors import PermissionDenied
from supportops.web.core import PREFIX, Console, route_class
from supportops.web.session import LOGIN_COOKIE, MAX_AGE_S, SESSION_COOKIE, new_token, same_token

FormStr = Annotated[str | None, Form()]


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    """HttpOnly, SameSite=Strict, scoped to the console; Secure whenever served over HTTPS."""
    response.set_cookie(name, value, max_age=max_age, path=PREFIX, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


def router(console: Console) -> APIRouter:
    pages = APIRouter(prefix=PREFIX, route_class=route_class(console))

    @pages.get("/login", include_in_schema=False)
    def login_page(request: Request) -> Response:
        """The sign-in form; its token is double-submitted (cookie and field)."""
        token = new_token()
        response = console.render(request, "login.html", csrf=token)
        _cookie(response, request, LOGIN_COOKIE, token, 3600)
        return response

    @pages.post("/login", include_in_schema=False)
    def login(request: Request, api_key: FormStr = None, csrf: FormStr = None) -> Response:
        """Check the key (tenant and role come from it alone) and open a session."""
        if not same_token(request.cookies.get(LOGIN_COOKIE), csrf):
            raise PermissionDenied("The sign-in form's security token is missing or stale; "
                                   "reload the sign-in page and try again.")
        try:
            console.tenant_for((api_key or "").strip())
        except PermissionDenied:
            token = new_token()
            refused: Response = console.render(request, "login.html", status_code=401, csrf=token,
                                      error="That API key is not valid (unknown, disabled or "
                                            "mistyped). Paste the whole key, starting 'so_'.")
            _cookie(refused, request, LOGIN_COOKIE, token, 3600)
            return refused
        cookie, _ = console.codec.seal((api_key or "").strip())
        response = RedirectResponse(f"{PREFIX}/", status_code=303)
        _cookie(response, request, SESSION_COOKIE, cookie, MAX_AGE_S)
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX, httponly=True, samesite="strict")
        return response

    @pages.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf: FormStr = None) -> Response:
        console.checked(request, csrf)
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX, httponly=True, samesite="strict")
        return response

    return pages
