"""The encryption seam of the log: content at rest is sealed, reads open it in batches.

A :class:`PayloadCipher` (privacy implements it; events never imports privacy) encrypts the
free text of drafts in place after pseudonymisation and before the rows, and so their hashes,
are built: the log and every table that copies a value (the ticket projection) hold only
ciphertext. Reads hand whole batches of payloads to :meth:`PayloadCipher.open`, which
decrypts every sealed string in place; a sealed string whose key was destroyed (erasure)
stays unreadable for good.

The event's subject (a customer's pseudonym) is stored sealed as well, by
:meth:`PayloadCipher.seal_subjects`: ``events.subject`` holds ``enc:v1:<subject ref>:<..>``,
deterministic per subject so that it can be looked up, and covered by the hash chain as
stored. A tombstone keeps it (the chain needs it, without any key); once the subject key is
destroyed it names no one, since the reference is keyed and the token unreadable. Values
stored before this (plain tokens) read as they are.

The cipher comes with the connection: the workspace built its database with a composition
whose ``cipher`` factory makes one per context (see :mod:`supportops.events.wiring`), so every
reader of the same database (log reads, ticket views, analytics) uses the one its workspace
configured, and a database built without one stores and reads content as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import orjson
from sqlalchemy import Connection

from supportops.events.schemas import EventDraft
from supportops.events.wiring import wiring
from supportops.governance.context import Context

#: Sealed strings start with this; nothing else in a stored payload does.
MARK = "enc:v1:"


class PayloadCipher(Protocol):
    """Seals drafts' free text before storage; opens sealed strings after reads."""

    def seal(self, conn: Connection, ctx: Context, drafts: Sequence[EventDraft]) -> None: ...

    def open(self, conn: Connection, ctx: Context, values: list[Any]) -> None: ...

    def seal_subjects(self, conn: Connection, ctx: Context,
                      subjects: Sequence[str | None]) -> list[str | None]: ...

    def open_subjects(self, conn: Connection, ctx: Context,
                      stored: Sequence[str | None]) -> list[str | None]: ...

    def subject_forms(self, conn: Connection, ctx: Context, subject: str) -> list[str]:
        """Every value ``events.subject`` may hold for ``subject`` (sealed, or as stored
        before sealing)."""

    def subject_refs(self, conn: Connection, ctx: Context,
                     subjects: Sequence[str]) -> dict[str, str]:
        """The keyed reference of each subject (how lineage names it)."""


def for_connection(conn: Connection, ctx: Context) -> PayloadCipher | None:
    """A cipher for ``ctx`` from the composition ``conn``'s database was built with (``None``
    when it has none: content is stored as it is)."""
    factory = wiring(conn).cipher
    return factory(ctx) if factory is not None else None


def seal(conn: Connection, ctx: Context, drafts: Sequence[EventDraft]) -> None:
    cipher = for_connection(conn, ctx)
    if cipher is not None:
        cipher.seal(conn, ctx, drafts)


def seal_subjects(conn: Connection, ctx: Context,
                  subjects: Sequence[str | None]) -> list[str | None]:
    """What ``events.subject`` stores for each subject (as given without a cipher)."""
    cipher = for_connection(conn, ctx)
    return cipher.seal_subjects(conn, ctx, subjects) if cipher is not None else list(subjects)


def open_subjects(conn: Connection, ctx: Context, stored: Sequence[str | None],
                  cipher: PayloadCipher | None = None) -> list[str | None]:
    """Subjects as read (``None`` where the subject's key was destroyed); ``cipher``: one
    already made for this batch (its unwrapped keys are reused)."""
    if not any(s is not None and s.startswith(MARK) for s in stored):
        return list(stored)
    cipher = cipher or for_connection(conn, ctx)
    return cipher.open_subjects(conn, ctx, stored) if cipher is not None else list(stored)


def subject_forms(conn: Connection, ctx: Context, subject: str) -> list[str]:
    """The values of ``events.subject`` that stand for ``subject`` (for look-ups)."""
    cipher = for_connection(conn, ctx)
    return cipher.subject_forms(conn, ctx, subject) if cipher is not None else [subject]


def subject_refs(conn: Connection, ctx: Context, subjects: Sequence[str]) -> dict[str, str]:
    """Keyed references of subjects (each subject itself without a cipher)."""
    cipher = for_connection(conn, ctx)
    if cipher is None:
        return {s: s for s in subjects}
    return cipher.subject_refs(conn, ctx, subjects)


def open_values(conn: Connection, ctx: Context, values: list[Any]) -> None:
    """Decrypt, in place, every sealed string inside ``values`` (dicts and lists)."""
    if not values:
        return
    cipher = for_connection(conn, ctx)
    if cipher is not None:
        cipher.open(conn, ctx, values)


def open_json(conn: Connection, ctx: Context, docs: list[str | None]) -> list[str | None]:
    """JSON documents with their sealed strings decrypted (documents without any unchanged)."""
    at = [i for i, d in enumerate(docs) if d is not None and MARK in d]
    if not at:
        return docs
    parsed = [orjson.loads(docs[i] or "null") for i in at]
    open_values(conn, ctx, parsed)
    out = list(docs)
    for i, value in zip(at, parsed, strict=True):
        out[i] = orjson.dumps(value).decode()
    return out
