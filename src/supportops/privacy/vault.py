"""The vault: original values, encrypted under their subject's key, found by token."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, select

from supportops.privacy.keys import Keyring, insert_ignore
from supportops.privacy.tables import vault

#: A pseudonym in stored text: ``<EMAIL_ADDRESS_1f3a9c2b7d10e4f5>``.
TOKEN_RE = re.compile(r"<([A-Z][A-Z0-9_]*)_([0-9a-f]{16})>")
#: Vault subject for values of events that name no data subject.
UNATTRIBUTED = "<UNATTRIBUTED>"
_CHUNK = 2000


def store(conn: Connection, keyring: Keyring, entries: dict[tuple[str, str], str]) -> int:
    """Encrypt and insert ``{(subject, token): original}``; existing entries are kept."""
    if not entries:
        return 0
    keyring.preload(conn, {subject for subject, _ in entries})
    now = datetime.now(UTC)
    rows: list[dict[str, object]] = []
    for (subject, token), value in entries.items():
        key = keyring.subject_key(conn, subject)
        assert key is not None
        rows.append({"tenant_id": keyring.ctx.tenant_id, "subject": subject, "token": token,
                     "ciphertext": keyring.encrypt(key, subject, token, value),
                     "created_at": now})
    for i in range(0, len(rows), _CHUNK):
        insert_ignore(conn, vault, rows[i : i + _CHUNK])
    return len(rows)


def fetch(conn: Connection, keyring: Keyring, subject: str,
          tokens: Iterable[str]) -> dict[str, str]:
    """Decrypted originals of ``tokens`` for one subject (tokens without entries are absent)."""
    wanted = sorted(set(tokens))
    if not wanted:
        return {}
    key = keyring.subject_key(conn, subject, create=False)
    if key is None:  # erased (key shredded) or never stored
        return {}
    out: dict[str, str] = {}
    for i in range(0, len(wanted), _CHUNK):
        rows = conn.execute(select(vault.c.token, vault.c.ciphertext).where(
            vault.c.tenant_id == keyring.ctx.tenant_id, vault.c.subject == subject,
            vault.c.token.in_(wanted[i : i + _CHUNK]))).all()
        for token, sealed in rows:
            out[token] = keyring.decrypt(key, subject, token, sealed)
    return out


def delete_subject(conn: Connection, keyring: Keyring, subject: str) -> int:
    result = conn.execute(delete(vault).where(vault.c.tenant_id == keyring.ctx.tenant_id,
                                              vault.c.subject == subject))
    return int(result.rowcount or 0)
