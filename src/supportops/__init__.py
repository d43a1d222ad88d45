"""supportops: ML for customer-support operations on a governed, privacy-first event log.

The public entry point is :class:`Workspace`; everything else hangs off a tenant handle::

    ws = Workspace.open("./supportops-workspace")
    acme = ws.tenant("acme")
    acme.ingest("tickets.csv", format="csv")
    acme.tickets.count()
"""

from __future__ import annotations

from supportops.errors import (
    ConfigError,
    IngestError,
    NotFound,
    PermissionDenied,
    SupportopsError,
    ValidationFailed,
)
from supportops.version import __version__ as __version__
from supportops.workspace import Tenant, Workspace

__all__ = [
    "ConfigError",
    "IngestError",
    "NotFound",
    "PermissionDenied",
    "SupportopsError",
    "Tenant",
    "ValidationFailed",
    "Workspace",
]
