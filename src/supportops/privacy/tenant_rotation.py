"""Rotation of a tenant key: every subject key re-wrapped, no content re-encrypted.

A tenant key has two jobs: its first half keys the pseudonyms and references (tokens are
inside content and models, references name key and vault rows, so that half stays for the
tenant's life) and, until rotated, also derives the key-encryption key (KEK) that wraps
subject keys. Rotating draws a fresh second half, from which the KEK is derived from then on:
the stored tenant key becomes 64 bytes, each subject key is unwrapped with the old KEK and
wrapped with the new one, in one transaction, audited. Subject keys themselves, and so every
vault value and every sealed string, stay byte for byte; erasure still shreds by deleting a
subject key. A copy of the database taken before the rotation needs the old KEK, which is
gone with the old wrapped tenant key.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from supportops.governance import audit
from supportops.governance.context import Context, Role
from supportops.privacy.keys import (
    Keyring,
    open_sealed,
    seal,
    subject_kek,
    subject_key_aad,
)
from supportops.privacy.tables import subject_keys, tenant_keys
from supportops.storage import Database

ROTATE_ROLES: tuple[Role, ...] = ("admin",)
_BATCH = 2000


def rotate_tenant_key(db: Database, ctx: Context, keyring: Keyring) -> dict[str, Any]:
    """Re-wrap the tenant's subject keys under a fresh KEK; returns what it did."""
    ctx.require(*ROTATE_ROLES, action="rotate the tenant key")
    with db.begin(ctx.tenant_id) as conn:
        keyring.load(conn)  # creates the tenant key if there is none yet
        old = keyring.provider.unwrap(ctx.tenant_id, _locked_key(conn, ctx))
        new = old[:32] + secrets.token_bytes(32)
        count = _rewrap(conn, ctx, subject_kek(old), subject_kek(new))
        conn.execute(update(tenant_keys).where(tenant_keys.c.tenant_id == ctx.tenant_id)
                     .values(wrapped_key=keyring.provider.wrap(ctx.tenant_id, new),
                             provider=keyring.provider.name))
        audit.record(conn, ctx, "key.rotate", details={
            "key": "tenant", "rewrapped": "subject", "subject_keys": count})
    return {"rotated": "tenant", "tenant": ctx.tenant_id, "subject_keys_rewrapped": count,
            "at": datetime.now(UTC).isoformat()}


def _locked_key(conn: Connection, ctx: Context) -> bytes:
    """The wrapped tenant key, its row locked until commit (writers that are creating subject
    keys hold it ``FOR SHARE``: the rotation waits for them and re-wraps their keys too)."""
    query = select(tenant_keys.c.wrapped_key).where(tenant_keys.c.tenant_id == ctx.tenant_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    wrapped: bytes = conn.execute(query).scalar_one()
    return wrapped


def _rewrap(conn: Connection, ctx: Context, old_kek: bytes, new_kek: bytes) -> int:
    """Every subject key of the tenant, in batches of references."""
    count, after = 0, ""
    while True:
        rows = conn.execute(select(subject_keys.c.subject, subject_keys.c.wrapped_key).where(
            subject_keys.c.tenant_id == ctx.tenant_id, subject_keys.c.subject > after)
            .order_by(subject_keys.c.subject).limit(_BATCH)).all()
        if not rows:
            return count
        changes = []
        for row in rows:
            aad = subject_key_aad(ctx.tenant_id, row.subject)
            key = open_sealed(old_kek, row.wrapped_key, aad)
            changes.append({"s": row.subject, "w": seal(new_kek, key, aad)})
        conn.execute(update(subject_keys).where(
            subject_keys.c.tenant_id == ctx.tenant_id,
            subject_keys.c.subject == bindparam("s")).values(wrapped_key=bindparam("w")), changes)
        count += len(rows)
        after = rows[-1].subject

