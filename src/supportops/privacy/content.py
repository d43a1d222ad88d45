"""Content at rest, crypto-shredded: the log's :class:`~supportops.events.cipher.PayloadCipher`.

Every free-text string of a payload (declared free text, anything undeclared, a code that
failed its check) is stored as ``enc:v1:<subject ref>:<base64 AES-GCM>`` under the key of the
event's customer (or, for events that name no customer, the tenant's content subject). The
ticket projection copies these strings as they are, so destroying the subject key at erasure
makes every copy unreadable: dead tuples, WAL segments, backups, a copied workspace.
Identity values are tokens already and codes carry nothing personal, so both stay clear
(analytics filters and groups on them in SQL).

The event's own subject (its customer's token) is sealed the same way under that customer's
key, but deterministically (a synthetic nonce), so that ``events.subject`` can still be looked
up by value; after erasure it is a keyed reference and an unreadable ciphertext.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import Connection

from supportops.events import classification
from supportops.events.catalogue import CORE, Catalogue
from supportops.events.cipher import MARK
from supportops.events.classification import Code, FieldClass, Identity
from supportops.events.schemas import EventDraft
from supportops.governance.context import Context
from supportops.privacy import subjects
from supportops.privacy.keys import Keyring, open_sealed, seal
from supportops.privacy.sealed_subjects import REF_LEN, SubjectSealing
from supportops.privacy.vault import TOKEN_RE

#: What a sealed string reads as once its key is destroyed.
ERASED = "[erased]"
_REF_LEN = REF_LEN


class ContentCipher(SubjectSealing):
    """Seals and opens payload content with subject keys, a batch at a time."""

    def __init__(self, keyring: Keyring, catalogue: Catalogue = CORE) -> None:
        self.keyring = keyring
        #: Which strings are free text is each event type's declaration.
        self.catalogue = catalogue

    def _aad(self, ref: str) -> bytes:
        return f"content\x1f{self.keyring.ctx.tenant_id}\x1f{ref}".encode()

    def _ref(self, draft: EventDraft) -> str:
        if draft.subject:
            return self.keyring.subject_ref(subjects.CUSTOMER, draft.subject)
        return self.keyring.subject_ref(subjects.TENANT_CONTENT, "content")

    def seal(self, conn: Connection, ctx: Context, drafts: Sequence[EventDraft]) -> None:
        self.keyring.load(conn)
        slots = [(self._ref(d), holder, key) for d in drafts
                 for holder, key in _free_strings(self.catalogue.classes(d.type), d.payload)]
        if not slots:
            return
        self.keyring.preload(conn, {ref for ref, _, _ in slots})
        for ref, holder, key in slots:
            data_key = self.keyring.subject_key(conn, ref)
            assert data_key is not None
            sealed = seal(data_key, holder[key].encode(), self._aad(ref))
            holder[key] = f"{MARK}{ref}:{base64.b64encode(sealed).decode()}"

    def open(self, conn: Connection, ctx: Context, values: list[Any]) -> None:
        found = list(_sealed_strings(values))
        if not found:
            return
        refs = {text[len(MARK) : len(MARK) + _REF_LEN] for _, _, text in found}
        keys = self.keyring.existing_keys(conn, refs)
        for holder, key, text in found:
            holder[key] = self._open_one(keys, text)

    def _open_one(self, keys: dict[str, bytes], text: str) -> str:
        ref = text[len(MARK) : len(MARK) + _REF_LEN]
        data_key = keys.get(ref)
        if data_key is None:
            return ERASED
        try:
            raw = base64.b64decode(text[len(MARK) + _REF_LEN + 1 :])
            return open_sealed(data_key, raw, self._aad(ref)).decode()
        except (InvalidTag, ValueError):
            return ERASED


def _free_strings(declared: Mapping[str, FieldClass],
                  payload: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    """Where the free text of a (pseudonymised) payload is: identity and valid codes excluded."""
    for holder, key, cls in classification.strings(declared, payload):
        value = holder[key]
        if isinstance(cls, Identity) or not value.strip():
            continue
        if isinstance(cls, Code) and (cls.accepts(value) or TOKEN_RE.fullmatch(value)):
            continue
        yield holder, key


def _sealed_strings(node: Any) -> Iterator[tuple[Any, Any, str]]:
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if value.__class__ is str:
            if value.startswith(MARK):
                yield node, key, value
        elif isinstance(value, dict | list):
            yield from _sealed_strings(value)
