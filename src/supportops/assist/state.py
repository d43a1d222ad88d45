"""The assistant's index state and wiring, light to import (no NumPy): the workspace's
composition holds the :class:`IndexEnv` (keyring and encoder folder) its database carries,
:data:`PROJECTORS` (declared here, joined by the composition root) keeps enabled tenants'
indexes current in the append's transaction, and every change bumps the generation that
in-memory caches compare before a search.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sqlalchemy import Connection, select, update

from supportops.assist.tables import assist_state
from supportops.events.schemas import Event
from supportops.events.wiring import Projector
from supportops.governance.context import Context
from supportops.privacy.keys import Keyring
from supportops.storage import Database
from supportops.storage.database import wiring_of

if TYPE_CHECKING:
    from supportops.ml.embeddings import EncoderKind

ENCODER_KIND: EncoderKind = "minilm-onnx-int8"
DEFAULT_THRESHOLD = 0.5
KB_TYPES = ("kb_article.published", "kb_article.updated")
INDEXED_TYPES = (*KB_TYPES, "ticket.resolved")


@dataclass
class IndexEnv:
    """What the index needs from its workspace: the tenant keyring and the encoder."""

    keyring: Callable[[Context], Keyring]
    encoder_dir: Path

    def encoder(self) -> Any:
        return shared_encoder(self.encoder_dir)


@runtime_checkable
class IndexWiring(Protocol):
    """The piece of the workspace's composition the index uses."""

    @property
    def index(self) -> IndexEnv | None: ...


def index_env(source: Database | Connection) -> IndexEnv:
    """The index env of the composition ``source``'s database was built with. Taken from the
    handle or connection the index code already holds (the projector runs with a connection
    only), so it is always the one its workspace composed."""
    found = source.wiring if isinstance(source, Database) else wiring_of(source)
    env = found.index if isinstance(found, IndexWiring) else None
    if env is None:
        raise RuntimeError("This database was built without the assistant's index env; open "
                           "it through Workspace.open/init.")
    return env


def shared_encoder(cache_dir: Path) -> Any:
    """One MiniLM encoder per process and folder (loading it costs seconds)."""
    return _encoder(str(cache_dir))


@cache
def _encoder(cache_dir: str) -> Any:
    from supportops.ml.embeddings import Encoder

    return Encoder(ENCODER_KIND, Path(cache_dir), cache_size=200_000)


def read_state(conn: Connection, ctx: Context) -> Any:
    return conn.execute(select(assist_state).where(
        assist_state.c.tenant_id == ctx.tenant_id)).first()


def bump(conn: Connection, ctx: Context, position: int | None = None) -> None:
    """A change to the index: caches that hold an older generation reload."""
    values: dict[str, Any] = {"generation": assist_state.c.generation + 1}
    if position is not None:
        values["position"] = position
    conn.execute(update(assist_state).where(assist_state.c.tenant_id == ctx.tenant_id)
                 .values(**values))


def on_append(conn: Connection, ctx: Context, batch: Sequence[Event]) -> None:
    """Projector: keep an enabled tenant's index current, in the append's transaction.
    Tenants that never used the assistant pay one small read per appended batch."""
    if not batch or read_state(conn, ctx) is None:
        return
    if not any(e.type in INDEXED_TYPES for e in batch):
        conn.execute(update(assist_state).where(assist_state.c.tenant_id == ctx.tenant_id)
                     .values(position=batch[-1].seq))  # nothing to search changed
        return
    from supportops.assist.indexing import index_batch

    index_batch(conn, ctx, batch)
    bump(conn, ctx, batch[-1].seq)


#: What the assistant adds to every append (the composition root joins it).
PROJECTORS: Mapping[str, Projector] = {"assist": on_append}
