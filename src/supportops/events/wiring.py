"""What the log needs from the rooms above it, and how it receives it.

The workspace (the composition root, ``supportops/composition.py``) builds one composition
object and opens its :class:`~supportops.storage.Database` with it; the database handle and
every connection of it carry that object (``Database.wiring``). Appends, ingestion, replays
and reads take it from the handle or connection they are already given, rather than from a
new parameter threaded through every reader: a connection's collaborators are then exactly
the ones its database was built with, never a process-wide registry, and code that holds only
a connection (erasure hooks, snapshot builders, analytics) decrypts with the same cipher. A
database built without one (tests of this room on their own) knows :data:`CORE` types only,
seals nothing and runs no projector but the tickets'.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from sqlalchemy import Connection

from supportops.events.catalogue import CORE, Catalogue
from supportops.events.schemas import Event
from supportops.governance.context import Context
from supportops.storage import Database
from supportops.storage.database import wiring_of

if TYPE_CHECKING:
    from supportops.events.cipher import PayloadCipher

#: Makes the content cipher for one context (privacy provides it; events never imports it).
CipherFactory = Callable[[Context], "PayloadCipher"]
#: ``(conn, ctx, stored_events)``: a derived index of a higher room (assist's search index),
#: updated in the append's transaction. Stored events carry payloads as stored (sealed).
Projector = Callable[[Connection, Context, Sequence[Event]], None]


@runtime_checkable
class LogWiring(Protocol):
    """The pieces of the composition the events room uses."""

    @property
    def catalogue(self) -> Catalogue: ...

    @property
    def cipher(self) -> CipherFactory | None: ...

    @property
    def projectors(self) -> Mapping[str, Projector]: ...


@dataclass(frozen=True)
class Bare:
    """The wiring of a database built without one: core types, no cipher, no projector."""

    catalogue: Catalogue = CORE
    cipher: CipherFactory | None = None
    projectors: Mapping[str, Projector] = field(default_factory=dict)


BARE = Bare()


def wiring(source: Database | Connection) -> LogWiring:
    """The wiring ``source`` was built with (:data:`BARE` when none)."""
    found = source.wiring if isinstance(source, Database) else wiring_of(source)
    return found if isinstance(found, LogWiring) else BARE
