"""The context every data-access function takes: which tenant, which principal, which role.

There is no query path without one: functions in the rooms accept a ``Context`` and scope
every statement by ``ctx.tenant_id`` (and PostgreSQL's row-level security backs that up).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from supportops.errors import PermissionDenied, ValidationFailed
from supportops.governance.seal import AuditSealer

Role = Literal["admin", "privacy_officer", "ml_engineer", "analyst", "agent"]
ROLES: tuple[Role, ...] = ("admin", "privacy_officer", "ml_engineer", "analyst", "agent")
OWNER_PRINCIPAL = "owner"
#: What an API key may be restricted to (a key without scopes may use every one its role
#: allows); each API route belongs to exactly one.
SCOPES: tuple[str, ...] = ("events", "tickets", "triage", "assist", "analytics", "datasets",
                           "models", "privacy", "audit", "lineage", "principals", "webhooks",
                           "monitor")


@dataclass(frozen=True)
class Context:
    """Who acts, for which tenant, in which role."""

    tenant_id: str
    principal_id: str
    role: Role
    #: The audit chain's keys, given by the workspace when it opens the tenant.
    sealer: AuditSealer | None = field(default=None, compare=False, repr=False)
    #: The scopes an API key was restricted to; ``None``: every scope its role allows.
    scopes: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not self.tenant_id:
            raise ValidationFailed("A context needs a tenant; got an empty tenant id.")
        if self.role not in ROLES:
            raise ValidationFailed(
                f"The 'role' of a context must be one of {', '.join(ROLES)}. Got {self.role!r}."
            )

    def require(self, *roles: Role, action: str) -> None:
        """Refuse ``action`` unless the context's role is among ``roles``."""
        if self.role not in roles:
            raise PermissionDenied(
                f"Role {self.role!r} of principal {self.principal_id!r} may not {action}; "
                f"it needs one of: {', '.join(roles)}."
            )

    def require_scope(self, scope: str) -> None:
        """Refuse a key restricted to other scopes (roles still apply on top)."""
        if self.scopes is not None and scope not in self.scopes:
            granted = ", ".join(sorted(self.scopes)) or "none"
            raise PermissionDenied(
                f"The API key of principal {self.principal_id!r} is not scoped for "
                f"{scope!r}; its scopes are: {granted}."
            )
