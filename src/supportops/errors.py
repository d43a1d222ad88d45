"""One exception tree for the whole library.

    SupportopsError              base: every error we raise on purpose
    ├── ConfigError              a setting is missing or invalid           (HTTP 500 / CLI exit 2)
    ├── NotFound                 a tenant, ticket, model... does not exist  (HTTP 404)
    ├── AlreadyExists            creating something that is there already   (HTTP 409)
    ├── PermissionDenied         the context's role or tenant forbids it    (HTTP 403)
    ├── ValidationFailed         the caller's input is wrong                (HTTP 422)
    └── IngestError              a whole ingest was refused (e.g. --strict) (HTTP 422)

The CLI prints ``str(error)`` on one line; the API maps ``http_status``.
"""

from __future__ import annotations

from typing import Any


class SupportopsError(Exception):
    """Base class; ``http_status`` drives the API's error mapping."""

    http_status = 400
    code = "error"
    #: The input field at fault, when one is (the API's error names it).
    field: str | None = None

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.field = field


class ConfigError(SupportopsError):
    http_status = 500
    code = "config_error"


class NotFound(SupportopsError):
    http_status = 404
    code = "not_found"


class AlreadyExists(SupportopsError):
    http_status = 409
    code = "already_exists"


class PermissionDenied(SupportopsError):
    http_status = 403
    code = "permission_denied"


class ValidationFailed(SupportopsError):
    http_status = 422
    code = "validation_failed"


class IngestError(SupportopsError):
    """A whole ingestion was refused; ``report`` holds the per-record errors."""

    http_status = 422
    code = "ingest_refused"

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report
