"""Changing a principal's role or disabling it: privileged, so each change is audited in the
same transaction (creation is audited in :func:`supportops.governance.tenants.create_principal`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from supportops.errors import NotFound, ValidationFailed
from supportops.governance import audit
from supportops.governance.context import ROLES, Context
from supportops.storage import Database
from supportops.storage.schema import principals


def set_principal_role(db: Database, ctx: Context, name: str, role: str) -> str:
    """Give principal ``name`` a new role; returns the role it had."""
    ctx.require("admin", action="change roles")
    if role not in ROLES:
        raise ValidationFailed(f"The 'role' must be one of {', '.join(ROLES)}. Got {role!r}.")
    with db.begin(ctx.tenant_id) as conn:
        row = conn.execute(select(principals.c.id, principals.c.role).where(
            principals.c.tenant_id == ctx.tenant_id, principals.c.name == name)).first()
        if row is None:
            raise NotFound(f"Principal {name!r} does not exist in tenant {ctx.tenant_id!r}.")
        conn.execute(update(principals).where(principals.c.id == row.id).values(role=role))
        audit.record(conn, ctx, "principal.role_change", subject=name,
                     details={"principal_id": row.id, "from": row.role, "to": role})
    return str(row.role)


def disable_principal(db: Database, ctx: Context, name: str) -> None:
    """Disable a principal (its API key stops working); audited."""
    ctx.require("admin", action="disable principals")
    with db.begin(ctx.tenant_id) as conn:
        result = conn.execute(update(principals).where(
            principals.c.tenant_id == ctx.tenant_id, principals.c.name == name,
            principals.c.disabled_at.is_(None)).values(disabled_at=datetime.now(UTC)))
        if not result.rowcount:
            raise NotFound(f"Principal {name!r} does not exist (or is already disabled) in "
                           f"tenant {ctx.tenant_id!r}.")
        audit.record(conn, ctx, "principal.disable", subject=name)
