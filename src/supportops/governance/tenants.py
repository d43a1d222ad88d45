"""Tenants and principals (people and API keys; keys stored as SHA-256 hashes)."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from supportops.errors import AlreadyExists, NotFound, PermissionDenied, ValidationFailed
from supportops.governance import audit
from supportops.governance.context import ROLES, Context, Role
from supportops.storage import Database
from supportops.storage.schema import principals, tenants

_TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
KEY_PREFIX = "so"
#: Keys read ``so_<tenant>_<secret>``; tenant ids may hold '_', so a key is tried against each
#: tenant id its underscores could end (the secret, hex, has none), the longest first.
_MAX_KEY_SPLITS = 16


@dataclass(frozen=True)
class TenantInfo:
    id: str
    name: str
    created_at: datetime
    events: int


@dataclass(frozen=True)
class Principal:
    id: str
    tenant_id: str
    name: str
    kind: str
    role: Role
    created_at: datetime


def validate_tenant_id(tenant_id: str) -> str:
    if not _TENANT_ID.match(tenant_id or ""):
        raise ValidationFailed(
            "A tenant id must be 1-63 characters of a-z, 0-9, '-' or '_', starting with a "
            f"letter or digit. Got {tenant_id!r}."
        )
    return tenant_id


def create_tenant(db: Database, tenant_id: str, name: str | None = None) -> TenantInfo:
    validate_tenant_id(tenant_id)
    now = datetime.now(UTC)
    try:
        with db.begin(None) as conn:
            conn.execute(
                insert(tenants).values(id=tenant_id, name=name or tenant_id, created_at=now,
                                       last_seq=0)
            )
    except IntegrityError:
        raise AlreadyExists(f"Tenant {tenant_id!r} already exists.") from None
    return TenantInfo(tenant_id, name or tenant_id, now, 0)


def list_tenants(db: Database) -> list[TenantInfo]:
    with db.begin(None) as conn:
        rows = conn.execute(select(tenants).order_by(tenants.c.id)).all()
    return [TenantInfo(r.id, r.name, r.created_at, r.last_seq) for r in rows]


def get_tenant(db: Database, tenant_id: str) -> TenantInfo:
    with db.begin(None) as conn:
        row = conn.execute(select(tenants).where(tenants.c.id == tenant_id)).first()
    if row is None:
        raise NotFound(
            f"Tenant {tenant_id!r} does not exist. Create it with "
            f"'supportops tenants create {tenant_id}'."
        )
    return TenantInfo(row.id, row.name, row.created_at, row.last_seq)


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def create_principal(
    db: Database, ctx: Context, name: str, role: str, kind: str = "api_key"
) -> tuple[Principal, str | None]:
    """Create a principal in ``ctx``'s tenant; returns it and its API key (shown once only)."""
    ctx.require("admin", action="create principals")
    if role not in ROLES:
        raise ValidationFailed(f"The 'role' must be one of {', '.join(ROLES)}. Got {role!r}.")
    if kind not in ("api_key", "person"):
        raise ValidationFailed(f"The 'kind' must be 'api_key' or 'person'. Got {kind!r}.")
    api_key = None
    key_hash = None
    if kind == "api_key":
        api_key = f"{KEY_PREFIX}_{ctx.tenant_id}_{secrets.token_hex(32)}"
        key_hash = hash_key(api_key)
    principal = Principal(str(uuid.uuid4()), ctx.tenant_id, name, kind, role,
                          datetime.now(UTC))
    try:
        with db.begin(ctx.tenant_id) as conn:
            conn.execute(
                insert(principals).values(
                    id=principal.id, tenant_id=ctx.tenant_id, name=name, kind=kind, role=role,
                    key_hash=key_hash, created_at=principal.created_at,
                )
            )
            audit.record(conn, ctx, "principal.create", subject=name,
                         details={"principal_id": principal.id, "role": role, "kind": kind})
    except IntegrityError:
        raise AlreadyExists(
            f"Principal {name!r} already exists in tenant {ctx.tenant_id!r}."
        ) from None
    return principal, api_key


def list_principals(db: Database, ctx: Context) -> list[Principal]:
    ctx.require("admin", action="list principals")
    with db.begin(ctx.tenant_id) as conn:
        rows = conn.execute(
            select(principals)
            .where(principals.c.tenant_id == ctx.tenant_id)
            .order_by(principals.c.created_at)
        ).all()
    return [_principal(r) for r in rows]


def _principal(row: object) -> Principal:
    r = row
    return Principal(r.id, r.tenant_id, r.name, r.kind, r.role, r.created_at)  # type: ignore[attr-defined]


def key_tenants(api_key: str) -> list[str]:
    """The tenant ids an API key may name, most likely first (``so_<tenant>_<secret>``)."""
    head = f"{KEY_PREFIX}_"
    if not api_key or not api_key.startswith(head):
        return []
    rest = api_key[len(head):]
    cuts = [i for i, ch in enumerate(rest) if ch == "_" and i < len(rest) - 1]
    candidates = [rest[:i] for i in reversed(cuts) if _TENANT_ID.match(rest[:i])]
    return candidates[:_MAX_KEY_SPLITS]


def authenticate(db: Database, api_key: str) -> Context:
    """The context an API key acts in. The key names its tenant, so lookup stays tenant-scoped
    (each candidate tenant is asked inside its own transaction)."""
    candidates = key_tenants(api_key)
    if not candidates:
        raise PermissionDenied("That API key is malformed; keys look like 'so_<tenant>_<secret>'.")
    for tenant_id in candidates:
        ctx = _key_context(db, tenant_id, hash_key(api_key))
        if ctx is not None:
            return ctx
    raise PermissionDenied("That API key is unknown or disabled.")


def _key_context(db: Database, tenant_id: str, key_hash: str) -> Context | None:
    with db.begin(tenant_id) as conn:
        row = conn.execute(
            select(principals).where(
                principals.c.tenant_id == tenant_id,
                principals.c.key_hash == key_hash,
                principals.c.disabled_at.is_(None),
            )
        ).first()
    if row is None:
        return None
    return Context(tenant_id=row.tenant_id, principal_id=row.id, role=row.role)


def principal_context(db: Database, tenant_id: str, principal_name: str) -> Context:
    """The context of a named principal of ``tenant_id`` (the CLI's ``--as``)."""
    with db.begin(tenant_id) as conn:
        row = conn.execute(
            select(principals).where(
                principals.c.tenant_id == tenant_id,
                principals.c.name == principal_name,
                principals.c.disabled_at.is_(None),
            )
        ).first()
    if row is None:
        raise NotFound(f"Principal {principal_name!r} does not exist in tenant {tenant_id!r}.")
    return Context(tenant_id=tenant_id, principal_id=row.id, role=row.role)
