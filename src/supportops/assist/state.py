"""The assistant's index state and wiring, light to import (no NumPy): the workspace
installs its keyring and encoder folder here, the projector registered here keeps enabled
tenants' indexes current in the append's transaction, and every change bumps the generation
that in-memory caches compare before a search.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, select, update

from supportops.assist.tables import assist_state
from supportops.events.projection import register_projector
from supportops.events.schemas import Event
from supportops.governance.context import Context
from supportops.privacy.keys import Keyring

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


_ENVS: WeakKeyDictionary[Engine, IndexEnv] = WeakKeyDictionary()
_ENCODERS: dict[str, Any] = {}


def install(engine: Engine, env: IndexEnv) -> None:
    """Every append and search on ``engine`` uses ``env`` (the workspace installs it)."""
    _ENVS[engine] = env


def env_for(engine: Engine) -> IndexEnv:
    env = _ENVS.get(engine)
    if env is None:
        raise RuntimeError("The assistant's index is not installed on this database; open it "
                           "through Workspace.open/init.")
    return env


def shared_encoder(cache_dir: Path) -> Any:
    """One MiniLM encoder per process and folder (loading it costs seconds)."""
    key = str(cache_dir)
    if key not in _ENCODERS:
        from supportops.ml.embeddings import Encoder

        _ENCODERS[key] = Encoder(ENCODER_KIND, cache_dir, cache_size=200_000)
    return _ENCODERS[key]


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


register_projector("assist", on_append)
