"""Bringing a workspace written by the release before sealed content forward, in place.

That release kept subject keys and vault rows named by token text (``<CUSTOMER_..>``, and one
tenant-wide ``<UNATTRIBUTED>`` bucket), payload free text and the event's subject in clear,
and idempotency keys as the input made them. ``supportops init`` runs :func:`upgrade` inside
the schema upgrade, after ``0010_subjects`` and before ``0005_integrity`` chains the log, so
the chain covers the data as it is from now on. Per tenant, in the migration's transaction:

1. subject keys are renamed to their keyed reference (the same key material, wrapped anew,
   bound to the reference): nothing is re-keyed, so every sealed byte stays readable;
2. vault rows are renamed to references and their values sealed again under the new names;
3. every live event's free text and subject are sealed under its customer's key and its
   idempotency key keyed (re-ingesting the same file stays idempotent);
4. the ticket projection, which copied clear text, is dropped for rebuilding, and lineage
   names subjects by reference. (Cached embeddings keep their token-named rows: erasure
   deletes them by token as well.)

What it does not change: event ids (they stay what the old release derived), audit entries
(their chain is re-keyed by ``0005_integrity`` over their content as it is, tokens included)
and erasure reports written before. The old tenant-wide bucket becomes the tenant's content
subject, which erasure never reaches (as before).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, insert, select, text, update

from supportops.events.catalogue import CORE, Catalogue
from supportops.events.schemas import EventDraft
from supportops.governance.context import OWNER_PRINCIPAL, Context
from supportops.governance.tables import lineage_snapshot_subjects
from supportops.privacy.content import ContentCipher
from supportops.privacy.keys import (
    KeyProvider,
    Keyring,
    open_sealed,
    seal,
    subject_kek,
    subject_key_aad,
)
from supportops.privacy.subjects import CUSTOMER, TENANT_CONTENT
from supportops.privacy.tables import subject_keys, tenant_keys, vault
from supportops.privacy.vault import TOKEN_RE
from supportops.storage.schema import events, projection_positions, tenants, tickets

UNATTRIBUTED = "<UNATTRIBUTED>"
_BATCH = 2000
#: The old release's guards refuse updates of events; ``0005_integrity`` drops them by these
#: names and creates the current ones.
_LEGACY_GUARDS = {"sqlite": ("DROP TRIGGER IF EXISTS events_redact_only",
                             "DROP TRIGGER IF EXISTS events_redact_once"),
                  "postgresql": ("DROP TRIGGER IF EXISTS events_append_only ON events",)}


def upgrade(conn: Connection, provider: KeyProvider,
            catalogue: Catalogue = CORE) -> dict[str, Any]:
    """Upgrade every tenant that has a tenant key; returns counts per tenant. ``catalogue``
    says which strings of each event type are free text (sealed)."""
    for sql in _LEGACY_GUARDS.get(conn.dialect.name, ()):
        conn.execute(text(sql))
    done: dict[str, Any] = {}
    for tenant_id in conn.execute(select(tenants.c.id).order_by(tenants.c.id)).scalars():
        _scope(conn, tenant_id)
        if conn.execute(select(tenant_keys.c.tenant_id).where(
                tenant_keys.c.tenant_id == tenant_id)).first() is None:
            continue  # nothing was ever pseudonymised or keyed here
        done[tenant_id] = _tenant(conn, provider, tenant_id, catalogue)
    return done


def _scope(conn: Connection, tenant_id: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT set_config('supportops.tenant', :t, true)"), {"t": tenant_id})


def _tenant(conn: Connection, provider: KeyProvider, tenant_id: str,
            catalogue: Catalogue) -> dict[str, int]:
    ctx = Context(tenant_id=tenant_id, principal_id=OWNER_PRINCIPAL, role="admin")
    keyring = Keyring(provider, ctx)
    keyring.load(conn)
    wrapped = conn.execute(select(tenant_keys.c.wrapped_key).where(
        tenant_keys.c.tenant_id == tenant_id)).scalar_one()
    kek = subject_kek(provider.unwrap(tenant_id, wrapped))
    names = _rename_keys(conn, keyring, kek)
    counts = {"subject_keys": len(names), "vault_entries": _rename_vault(conn, keyring, names),
              "events": _seal_events(conn, keyring, catalogue)}
    _drop_derived(conn, keyring)
    return counts


def _ref(keyring: Keyring, name: str) -> str:
    """The reference an old subject name becomes."""
    match = TOKEN_RE.fullmatch(name)
    if match is None:
        return keyring.subject_ref(TENANT_CONTENT, "content")
    return keyring.subject_ref(CUSTOMER if match.group(1) == CUSTOMER else match.group(1), name)


def _rename_keys(conn: Connection, keyring: Keyring, kek: bytes) -> dict[str, tuple[str, bytes]]:
    """Old subject name -> (reference, key); rows renamed in place."""
    tenant = keyring.ctx.tenant_id
    rows = conn.execute(select(subject_keys).where(subject_keys.c.tenant_id == tenant)).all()
    names: dict[str, tuple[str, bytes]] = {}
    for row in rows:
        if row.subject.startswith("s") and len(row.subject) == 41:
            continue  # already a reference
        key = open_sealed(kek, row.wrapped_key, subject_key_aad(tenant, row.subject))
        ref = _ref(keyring, row.subject)
        names[row.subject] = (ref, key)
        conn.execute(delete(subject_keys).where(subject_keys.c.tenant_id == tenant,
                                                subject_keys.c.subject == row.subject))
        conn.execute(insert(subject_keys).values(
            tenant_id=tenant, subject=ref, created_at=row.created_at,
            wrapped_key=seal(kek, key, subject_key_aad(tenant, ref))))
    return names


def _rename_vault(conn: Connection, keyring: Keyring,
                  names: dict[str, tuple[str, bytes]]) -> int:
    tenant = keyring.ctx.tenant_id
    count = 0
    for old, (ref, key) in names.items():
        rows = conn.execute(select(vault).where(vault.c.tenant_id == tenant,
                                                vault.c.subject == old)).all()
        conn.execute(delete(vault).where(vault.c.tenant_id == tenant, vault.c.subject == old))
        for row in rows:
            aad = f"vault\x1f{tenant}\x1f{old}\x1f{row.token}".encode()
            value = open_sealed(key, row.ciphertext, aad).decode()
            token = keyring.vault_ref(row.token)
            conn.execute(insert(vault).values(
                tenant_id=tenant, subject=ref, token=token, created_at=row.created_at,
                ciphertext=keyring.encrypt(key, ref, token, value)))
        count += len(rows)
    return count


#: The columns this release's log had (``payload_hash`` comes with ``0005_integrity``).
_EVENT_COLUMNS = (events.c.seq, events.c.type, events.c.occurred_at, events.c.payload,
                  events.c.idempotency_key, events.c.ticket_id, events.c.subject)


def _seal_events(conn: Connection, keyring: Keyring, catalogue: Catalogue) -> int:
    """Live events sealed as an append seals them now, a batch at a time."""
    cipher, ctx, position, count = ContentCipher(keyring, catalogue), keyring.ctx, 0, 0
    while True:
        rows = conn.execute(select(*_EVENT_COLUMNS).where(
            events.c.tenant_id == ctx.tenant_id, events.c.seq > position,
            events.c.redacted_at.is_(None)).order_by(events.c.seq).limit(_BATCH)).all()
        if not rows:
            return count
        drafts = [EventDraft(r.type, r.occurred_at, orjson.loads(r.payload), r.idempotency_key,
                             r.ticket_id, r.subject) for r in rows]
        cipher.seal(conn, ctx, drafts)
        subjects = cipher.seal_subjects(conn, ctx, [d.subject for d in drafts])
        conn.execute(update(events).where(
            events.c.tenant_id == ctx.tenant_id, events.c.seq == bindparam("b_seq")).values(
            payload=bindparam("b_payload"), subject=bindparam("b_subject"),
            idempotency_key=bindparam("b_key")), [
            {"b_seq": r.seq, "b_subject": s, "b_key": keyring.keyed_id(r.idempotency_key),
             "b_payload": orjson.dumps(d.payload, option=orjson.OPT_SORT_KEYS).decode()}
            for r, d, s in zip(rows, drafts, subjects, strict=True)])
        count += len(rows)
        position = rows[-1].seq


def _drop_derived(conn: Connection, keyring: Keyring) -> None:
    """The ticket projection held clear copies: it goes (the workspace rebuilds it after the
    upgrade); lineage memberships are named by reference."""
    tenant = keyring.ctx.tenant_id
    conn.execute(delete(tickets).where(tickets.c.tenant_id == tenant))
    conn.execute(delete(projection_positions).where(projection_positions.c.tenant_id == tenant))
    rows = conn.execute(select(lineage_snapshot_subjects).where(
        lineage_snapshot_subjects.c.tenant_id == tenant)).all()
    for row in rows:
        if TOKEN_RE.fullmatch(row.subject):
            conn.execute(update(lineage_snapshot_subjects).where(
                lineage_snapshot_subjects.c.tenant_id == tenant,
                lineage_snapshot_subjects.c.snapshot_id == row.snapshot_id,
                lineage_snapshot_subjects.c.subject == row.subject).values(
                subject=keyring.subject_ref(CUSTOMER, row.subject)))
