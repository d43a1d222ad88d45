"""The vault: original values, encrypted under the key of the subject they belong to.

Rows are named by references (HMACs under the tenant key) of their subject and token, never
by the token text. A value may sit under several subjects (a name in a customer's ticket is
vaulted under the customer and under the name's own subject); ``subject_links`` records which
third parties a customer's records named, so that erasing the customer erases those seen
nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, func, select

from supportops.privacy.keys import Keyring, insert_ignore
from supportops.privacy.tables import subject_links, vault

#: A pseudonym in stored text: ``<EMAIL_ADDRESS_1f3a9c2b7d10e4f5>``.
TOKEN_RE = re.compile(r"<([A-Z][A-Z0-9_]*)_([0-9a-f]{16})>")
_CHUNK = 2000


def store(conn: Connection, keyring: Keyring, entries: dict[tuple[str, str], str]) -> int:
    """Encrypt and insert ``{(subject ref, token): original}``; existing entries are kept."""
    if not entries:
        return 0
    keyring.preload(conn, {subject for subject, _ in entries})
    now = datetime.now(UTC)
    rows: list[dict[str, object]] = []
    for (subject, token), value in entries.items():
        key = keyring.subject_key(conn, subject)
        assert key is not None
        ref = keyring.vault_ref(token)
        rows.append({"tenant_id": keyring.ctx.tenant_id, "subject": subject, "token": ref,
                     "ciphertext": keyring.encrypt(key, subject, ref, value),
                     "created_at": now})
    for i in range(0, len(rows), _CHUNK):
        insert_ignore(conn, vault, rows[i : i + _CHUNK])
    return len(rows)


def link(conn: Connection, keyring: Keyring, links: Iterable[tuple[str, str]]) -> None:
    """Record that a customer's records named these third-party subjects."""
    rows: list[dict[str, object]] = [
        {"tenant_id": keyring.ctx.tenant_id, "subject": s, "linked": t}
        for s, t in sorted(links)]
    for i in range(0, len(rows), _CHUNK):
        insert_ignore(conn, subject_links, rows[i : i + _CHUNK])


def fetch(conn: Connection, keyring: Keyring, tokens: Iterable[str]) -> dict[str, str]:
    """Decrypted originals of ``tokens``, under whichever live subject holds them (tokens
    whose every subject was erased are absent)."""
    refs = {keyring.vault_ref(t): t for t in set(tokens)}
    wanted = sorted(refs)
    out: dict[str, str] = {}
    for i in range(0, len(wanted), _CHUNK):
        rows = conn.execute(select(vault.c.subject, vault.c.token, vault.c.ciphertext).where(
            vault.c.tenant_id == keyring.ctx.tenant_id,
            vault.c.token.in_(wanted[i : i + _CHUNK]))).all()
        for subject, ref, sealed in rows:
            key = keyring.subject_key(conn, subject, create=False)
            if key is not None and refs[ref] not in out:
                out[refs[ref]] = keyring.decrypt(key, subject, ref, sealed)
    return out


def delete_subject(conn: Connection, keyring: Keyring, subject: str) -> int:
    """Delete a subject's vault rows (by reference); returns how many."""
    result = conn.execute(delete(vault).where(vault.c.tenant_id == keyring.ctx.tenant_id,
                                              vault.c.subject == subject))
    return int(result.rowcount or 0)


def exclusive_links(conn: Connection, keyring: Keyring, subject: str) -> list[str]:
    """Third parties named in ``subject``'s records and in no other subject's."""
    tenant = keyring.ctx.tenant_id
    linked = select(subject_links.c.linked).where(subject_links.c.tenant_id == tenant,
                                                  subject_links.c.subject == subject)
    shared = (select(subject_links.c.linked)
              .where(subject_links.c.tenant_id == tenant, subject_links.c.subject != subject,
                     subject_links.c.linked.in_(linked))
              .group_by(subject_links.c.linked).having(func.count() > 0))
    rows = conn.execute(linked.where(subject_links.c.linked.not_in(shared))).scalars()
    return sorted(rows)


def unlink(conn: Connection, keyring: Keyring, subject: str) -> None:
    conn.execute(delete(subject_links).where(
        subject_links.c.tenant_id == keyring.ctx.tenant_id,
        (subject_links.c.subject == subject) | (subject_links.c.linked == subject)))
