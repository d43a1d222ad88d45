"""The event's subject at rest: ``events.subject`` sealed under the subject's own key.

A customer's token is what links its events; stored as it is, it would outlive erasure in the
tombstones (the hash chain covers the column, so a redaction may not change it). Sealed
deterministically (a synthetic nonce: one token, one stored value, so look-ups by value still
work) as ``enc:v1:<subject ref>:<base64>``, the column names the subject by a keyed reference
and a ciphertext that destroying the subject key makes unreadable. Verifying the chain needs
no key: it covers the value as stored.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import ColumnElement, Connection, or_

from supportops.events.cipher import MARK
from supportops.governance.context import Context
from supportops.privacy.keys import Keyring, open_sealed
from supportops.privacy.subjects import CUSTOMER
from supportops.privacy.vault import TOKEN_RE
from supportops.storage.schema import events

#: Length of a subject reference (``s`` and 40 hex digits).
REF_LEN = 41


def _aad(keyring: Keyring, ref: str) -> bytes:
    return f"event-subject\x1f{keyring.ctx.tenant_id}\x1f{ref}".encode()


def sealed_subject(keyring: Keyring, data_key: bytes, subject: str, ref: str) -> str:
    """``events.subject`` for ``subject`` (a token) under its key: the same value each time."""
    nonce = keyring.synthetic_nonce("event-subject", subject)
    body = nonce + AESGCM(data_key).encrypt(nonce, subject.encode(), _aad(keyring, ref))
    return f"{MARK}{ref}:{base64.b64encode(body).decode()}"


def customer_ref(conn: Connection, keyring: Keyring, token: str) -> str:
    """How key tables, audit entries and erasure reports name a customer: a keyed reference."""
    keyring.load(conn)
    return keyring.subject_ref(CUSTOMER, token)


def subject_where(conn: Connection, keyring: Keyring, token: str) -> ColumnElement[bool]:
    """Events of customer ``token``: its sealed subject (any value sealed under its reference
    once its key is destroyed, i.e. its tombstones) or the plain token stored before sealing."""
    ref = customer_ref(conn, keyring, token)
    key = keyring.subject_key(conn, ref, create=False)
    if key is None:
        return or_(events.c.subject == token, events.c.subject.like(f"{MARK}{ref}:%"))
    return events.c.subject.in_([sealed_subject(keyring, key, token, ref), token])


def stored_ref(keyring: Keyring, stored: str) -> str:
    """The customer reference of a value of ``events.subject`` (sealed, or a plain token)."""
    if stored.startswith(MARK):
        return stored[len(MARK) : len(MARK) + REF_LEN]
    return keyring.subject_ref(CUSTOMER, stored)


class SubjectSealing:
    """``events.subject`` sealed under the subject's own key (mixed into :class:`ContentCipher`)."""

    keyring: Keyring

    def _subject_aad(self, ref: str) -> bytes:
        return _aad(self.keyring, ref)

    def _sealed_subject(self, data_key: bytes, subject: str, ref: str) -> str:
        return sealed_subject(self.keyring, data_key, subject, ref)

    def seal_subjects(self, conn: Connection, ctx: Context,
                      subjects: Sequence[str | None]) -> list[str | None]:
        """Tokens sealed; anything else (pseudonymisation switched off) stays as given."""
        self.keyring.load(conn)
        refs = {s: self.keyring.subject_ref(CUSTOMER, s) for s in set(subjects)
                if s and TOKEN_RE.fullmatch(s)}
        if not refs:
            return list(subjects)
        self.keyring.preload(conn, set(refs.values()))
        sealed = {s: self._sealed_subject(self._key(conn, ref), s, ref) for s, ref in refs.items()}
        return [sealed.get(s, s) if s else s for s in subjects]

    def _key(self, conn: Connection, ref: str) -> bytes:
        key = self.keyring.subject_key(conn, ref)
        assert key is not None
        return key

    def open_subjects(self, conn: Connection, ctx: Context,
                      stored: Sequence[str | None]) -> list[str | None]:
        refs = {s[len(MARK) : len(MARK) + REF_LEN] for s in stored if s and s.startswith(MARK)}
        keys = self.keyring.existing_keys(conn, refs)
        return [self._open_subject(keys, s) if s and s.startswith(MARK) else s for s in stored]

    def _open_subject(self, keys: dict[str, bytes], text: str) -> str | None:
        """The token, or ``None`` once the subject's key is destroyed."""
        ref = text[len(MARK) : len(MARK) + REF_LEN]
        data_key = keys.get(ref)
        if data_key is None:
            return None
        try:
            raw = base64.b64decode(text[len(MARK) + REF_LEN + 1 :])
            return open_sealed(data_key, raw, self._subject_aad(ref)).decode()
        except (InvalidTag, ValueError):
            return None

    def subject_refs(self, conn: Connection, ctx: Context,
                     subjects: Sequence[str]) -> dict[str, str]:
        self.keyring.load(conn)
        return {s: self.keyring.subject_ref(CUSTOMER, s) for s in subjects}

    def subject_forms(self, conn: Connection, ctx: Context, subject: str) -> list[str]:
        if not TOKEN_RE.fullmatch(subject):
            return [subject]
        self.keyring.load(conn)
        ref = self.keyring.subject_ref(CUSTOMER, subject)
        key = self.keyring.subject_key(conn, ref, create=False)
        return [subject] if key is None else [self._sealed_subject(key, subject, ref), subject]
