"""Governance: tenants, principals and roles (the audit chain and lineage come with privacy)."""

from __future__ import annotations

from supportops.governance.context import ROLES, Context, Role

__all__ = ["ROLES", "Context", "Role"]
