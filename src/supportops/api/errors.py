"""One JSON error shape for every route: ``{"error": {"code", "message", "field"?}}``.

Library errors carry their status (``errors.py``); request validation becomes 422 naming the
field; anything unforeseen is a 500 that says nothing of its internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from supportops.errors import SupportopsError

log = logging.getLogger("supportops.api")


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_response(status: int, code: str, message: str, field: str | None = None
                   ) -> JSONResponse:
    detail: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        detail["field"] = field
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": detail}, status_code=status, headers=headers)


def _library(_: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, SupportopsError)
    return error_response(err.http_status, err.code, str(err), getattr(err, "field", None))


def _validation(_: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, RequestValidationError)
    first = err.errors()[0] if err.errors() else {}
    where = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(where) or None
    message = str(first.get("msg", "invalid request"))
    return error_response(422, "validation_failed",
                          f"{field}: {message}" if field else message, field)


_CODES = {400: "bad_request", 401: "unauthenticated", 403: "permission_denied",
          404: "not_found", 405: "method_not_allowed", 406: "not_acceptable",
          413: "too_large", 415: "unsupported_media_type"}


def _http(_: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, HTTPException)
    return error_response(err.status_code, _CODES.get(err.status_code, "error"),
                          str(err.detail))


def _unexpected(request: Request, err: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "The server failed to answer this request; "
                          "it is logged. Nothing of the request was changed unless it said so.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(SupportopsError, _library)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


#: Declared on every router, so the OpenAPI document shows the error shape.
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in (
        (401, "No key, or an unknown, disabled or expired one."),
        (403, "The key's role or scopes forbid this."),
        (404, "Not found in the key's tenant."),
        (422, "The request is invalid; the field is named."),
    )
}
