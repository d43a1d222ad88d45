"""Rotation of the master key: every tenant key re-wrapped, no content re-encrypted.

The master key only wraps tenant keys, so rotating it rewrites one row per tenant; tokens,
subject keys and vault ciphertexts stay byte for byte. All tenants move in one transaction,
each with an audit entry in its own chain. With the workspace key file, the new key is
written beside the old one first (``master.key.next``) and takes its place only after the
transaction commits; an interrupted rotation is finished by running it again. With
``SUPPORTOPS_MASTER_KEY``, the new key comes from ``SUPPORTOPS_NEW_MASTER_KEY`` and the
operator swaps the variables afterwards.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update

import supportops.settings as settings
from supportops.errors import ConfigError
from supportops.governance import audit
from supportops.governance.context import OWNER_PRINCIPAL, Context
from supportops.governance.seal import AuditSealer
from supportops.privacy.keys import KEY_FILE, LocalKeyProvider, _decode_master, master_key
from supportops.privacy.tables import tenant_keys
from supportops.storage import Database
from supportops.storage.schema import tenants

#: The audit keys of each tenant (the workspace derives them; see ``governance/seal.py``).
Sealers = Callable[[str], AuditSealer]
NEW_KEY_ENV = "SUPPORTOPS_NEW_MASTER_KEY"
NEXT_SUFFIX = ".next"


@dataclass(frozen=True)
class Rotation:
    tenants: list[str]
    rewrapped: int
    key_source: str

    def as_dict(self) -> dict[str, Any]:
        return {"rotated": "master", "tenants": self.tenants, "rewrapped": self.rewrapped,
                "key_source": self.key_source}


def rotate_master(db: Database, workspace: Path, config: dict[str, Any],
                  sealers: Sealers) -> Rotation:
    """Re-wrap every tenant key under a new master key (the workspace owner's action);
    ``sealers(tenant_id)`` keys each tenant's audit entry."""
    if str(config.get("key_provider", "local")) != "local":
        raise ConfigError("The master key is held by the external key provider "
                          f"{config['key_provider']!r}: rotate it there.")
    old = LocalKeyProvider(master_key(workspace))
    from_env = bool(settings.get("master_key"))
    new_key = _new_key(workspace, from_env)
    count, ids = _rewrap(db, old, LocalKeyProvider(new_key), sealers)
    if not from_env:
        os.replace(_next_path(workspace), workspace / KEY_FILE)
    return Rotation(ids, count, "SUPPORTOPS_MASTER_KEY" if from_env else str(KEY_FILE))


def _next_path(workspace: Path) -> Path:
    return (workspace / KEY_FILE).with_name(KEY_FILE.name + NEXT_SUFFIX)


def _new_key(workspace: Path, from_env: bool) -> bytes:
    """The new master key: from the environment, or a fresh key file beside the old one
    (an interrupted rotation's, if one is there, so that running again finishes it)."""
    if from_env:
        value = os.environ.get(NEW_KEY_ENV)
        if not value:
            raise ConfigError(f"The master key comes from 'SUPPORTOPS_MASTER_KEY': set "
                              f"'{NEW_KEY_ENV}' to the new key (base64 of 32 random bytes).")
        return _decode_master(value)
    path = _next_path(workspace)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.b64encode(secrets.token_bytes(32)).decode())
    return _decode_master(path.read_text().strip())


def _rewrap(db: Database, old: LocalKeyProvider, new: LocalKeyProvider,
            sealers: Sealers) -> tuple[int, list[str]]:
    with db.begin(None) as conn:
        ids = list(conn.execute(select(tenants.c.id).order_by(tenants.c.id)).scalars())
        count = sum(_rewrap_tenant(db, conn, tenant_id, old, new, sealers) for tenant_id in ids)
        db.enter(conn, None)
    return count, ids


def _rewrap_tenant(db: Database, conn: Connection, tenant_id: str, old: LocalKeyProvider,
                   new: LocalKeyProvider, sealers: Sealers) -> int:
    db.enter(conn, tenant_id)
    wrapped = conn.execute(select(tenant_keys.c.wrapped_key)
                           .where(tenant_keys.c.tenant_id == tenant_id)).scalar()
    if wrapped is None:  # no key yet: created under the new master when first needed
        return 0
    key = _unwrap_either(tenant_id, wrapped, old, new)
    conn.execute(update(tenant_keys).where(tenant_keys.c.tenant_id == tenant_id)
                 .values(wrapped_key=new.wrap(tenant_id, key), provider=new.name))
    ctx = Context(tenant_id=tenant_id, principal_id=OWNER_PRINCIPAL, role="admin",
                  sealer=sealers(tenant_id))
    audit.record(conn, ctx, "key.rotate", details={"key": "master", "rewrapped": "tenant"})
    return 1


def _unwrap_either(tenant_id: str, wrapped: bytes, old: LocalKeyProvider,
                   new: LocalKeyProvider) -> bytes:
    """The tenant key under the old master, or under the new one where an interrupted
    rotation already moved it."""
    try:
        return old.unwrap(tenant_id, wrapped)
    except ConfigError:
        return new.unwrap(tenant_id, wrapped)
