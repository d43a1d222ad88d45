"""Tenants and principals (people and API keys; keys stored as SHA-256 hashes)."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from supportops.errors import AlreadyExists, NotFound, PermissionDenied, ValidationFailed
from supportops.governance import audit
from supportops.governance.context import ROLES, SCOPES, Context, Role
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
    scopes: tuple[str, ...] | None = None
    expires_at: datetime | None = None
    disabled_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        """The public view (never a key or its hash)."""
        return {"id": self.id, "name": self.name, "role": self.role, "kind": self.kind,
                "scopes": list(self.scopes) if self.scopes is not None else None,
                "expires_at": self.expires_at, "disabled_at": self.disabled_at,
                "created_at": self.created_at}


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


def new_key(tenant_id: str) -> str:
    return f"{KEY_PREFIX}_{tenant_id}_{secrets.token_hex(32)}"


def checked_scopes(scopes: list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    """Scopes as given, each one known; ``None`` (no restriction) stays ``None``."""
    if scopes is None:
        return None
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValidationFailed(f"The 'scopes' must be among {', '.join(SCOPES)}. Got "
                               f"{unknown[0]!r}.", field="scopes")
    return tuple(dict.fromkeys(scopes))


def _checked_expiry(expires_at: datetime | None) -> datetime | None:
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        raise ValidationFailed("The 'expires_at' needs a time zone (or 'Z'). Got "
                               f"{expires_at.isoformat()!r}.", field="expires_at")
    if expires_at <= datetime.now(UTC):
        raise ValidationFailed(f"The 'expires_at' must lie in the future. Got "
                               f"{expires_at.isoformat()!r}.", field="expires_at")
    return expires_at


def create_principal(
    db: Database, ctx: Context, name: str, role: str, kind: str = "api_key", *,
    scopes: list[str] | tuple[str, ...] | None = None, expires_at: datetime | None = None,
) -> tuple[Principal, str | None]:
    """Create a principal in ``ctx``'s tenant; returns it and its API key (shown once only).
    A key may be restricted to ``scopes`` and stop working at ``expires_at``."""
    ctx.require("admin", action="create principals")
    if not name or len(name) > 200 or not name.isprintable():
        raise ValidationFailed(f"A principal's 'name' must be 1-200 printable characters. "
                               f"Got {name[:200]!r}.", field="name")
    if role not in ROLES:
        raise ValidationFailed(f"The 'role' must be one of {', '.join(ROLES)}. Got {role!r}.")
    if kind not in ("api_key", "person"):
        raise ValidationFailed(f"The 'kind' must be 'api_key' or 'person'. Got {kind!r}.")
    if not name or not name.strip() or len(name) > 200:
        raise ValidationFailed(f"The 'name' must be 1-200 characters. Got {name[:40]!r}.",
                               field="name")
    scope_list, expiry = checked_scopes(scopes), _checked_expiry(expires_at)
    api_key = new_key(ctx.tenant_id) if kind == "api_key" else None
    key_hash = hash_key(api_key) if api_key else None
    principal = Principal(str(uuid.uuid4()), ctx.tenant_id, name, kind, role,
                          datetime.now(UTC), scope_list, expiry)
    try:
        with db.begin(ctx.tenant_id) as conn:
            conn.execute(
                insert(principals).values(
                    id=principal.id, tenant_id=ctx.tenant_id, name=name, kind=kind, role=role,
                    key_hash=key_hash, created_at=principal.created_at, expires_at=expiry,
                    scopes=json.dumps(list(scope_list)) if scope_list is not None else None,
                )
            )
            audit.record(conn, ctx, "principal.create", subject=name,
                         details={"principal_id": principal.id, "role": role, "kind": kind,
                                  "scopes": list(scope_list) if scope_list is not None
                                  else None, "expires_at": expiry.isoformat() if expiry
                                  else None})
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


def _principal(row: Any) -> Principal:
    return Principal(row.id, row.tenant_id, row.name, row.kind, row.role, row.created_at,
                     _scopes(row.scopes), row.expires_at, row.disabled_at)


def _scopes(stored: str | None) -> tuple[str, ...] | None:
    return tuple(json.loads(stored)) if stored is not None else None


def rotate_key(db: Database, ctx: Context, name: str) -> str:
    """Give API-key principal ``name`` a fresh key; the old one stops working at once
    (audited). Returns the new key, shown once."""
    ctx.require("admin", action="rotate API keys")
    api_key = new_key(ctx.tenant_id)
    with db.begin(ctx.tenant_id) as conn:
        row = conn.execute(select(principals.c.id).where(
            principals.c.tenant_id == ctx.tenant_id, principals.c.name == name,
            principals.c.kind == "api_key", principals.c.disabled_at.is_(None))).first()
        if row is None:
            raise NotFound(f"API-key principal {name!r} does not exist (or is disabled) in "
                           f"tenant {ctx.tenant_id!r}.")
        conn.execute(update(principals).where(principals.c.id == row.id)
                     .values(key_hash=hash_key(api_key)))
        audit.record(conn, ctx, "principal.rotate_key", subject=name,
                     details={"principal_id": row.id})
    return api_key


def key_tenants(api_key: str) -> list[str]:
    """The tenant ids an API key may name, most likely first (``so_<tenant>_<secret>``)."""
    head = f"{KEY_PREFIX}_"
    if not api_key or not api_key.startswith(head):
        return []
    rest = api_key[len(head):]
    cuts = [i for i, ch in enumerate(rest) if ch == "_" and i < len(rest) - 1]
    candidates = [rest[:i] for i in reversed(cuts) if _TENANT_ID.match(rest[:i])]
    return candidates[:_MAX_KEY_SPLITS]


def authenticate(db: Database, api_key: str, now: datetime | None = None) -> Context:
    """The context an API key acts in. The key names its tenant, so lookup stays tenant-scoped
    (each candidate tenant is asked inside its own transaction). A key is expired when its
    ``expires_at`` is not after ``now`` (the current time unless a caller's clock says)."""
    candidates = key_tenants(api_key)
    if not candidates:
        raise PermissionDenied("That API key is malformed; keys look like 'so_<tenant>_<secret>'.")
    for tenant_id in candidates:
        ctx = _key_context(db, tenant_id, hash_key(api_key), now or datetime.now(UTC))
        if ctx is not None:
            return ctx
    raise PermissionDenied("That API key is unknown or disabled.")


def _key_context(db: Database, tenant_id: str, key_hash: str, now: datetime
                 ) -> Context | None:
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
    if row.expires_at is not None and row.expires_at <= now:
        raise PermissionDenied(f"That API key expired at {row.expires_at.isoformat()}; ask "
                               "an admin of the tenant for a new one.")
    scopes = _scopes(row.scopes)
    return Context(tenant_id=row.tenant_id, principal_id=row.id, role=row.role,
                   scopes=frozenset(scopes) if scopes is not None else None)


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
