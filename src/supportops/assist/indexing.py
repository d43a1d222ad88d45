"""The index is updated in the append's transaction, never rebuilt per query.

A tenant is indexed once the assistant is enabled for it (``enable``: the first load of a
knowledge base or the first question), which catches up with the log; from then on the
projector registered here indexes each batch of appended events in the same transaction:
blind terms into ``assist_documents`` and MiniLM vectors into the per-event embedding cache.
Tenants that never use the assistant pay one small read per appended batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np
from sqlalchemy import Connection, Engine, delete, insert, select, update

from supportops.assist import documents, terms
from supportops.assist.documents import Document
from supportops.assist.tables import assist_documents, assist_state
from supportops.events import log
from supportops.events.projection import register_projector
from supportops.events.schemas import Event
from supportops.governance.context import Context
from supportops.ml.embeddings import EncoderKind
from supportops.ml.tables import event_embeddings
from supportops.privacy.keys import Keyring
from supportops.storage import Database
from supportops.storage.bulk import bulk_insert

ENCODER_KIND: EncoderKind = "minilm-onnx-int8"
DEFAULT_THRESHOLD = 0.5
_CATCH_UP_BATCH = 2000


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


def blind_hasher(conn: Connection, ctx: Context) -> terms.BlindHasher:
    keyring = env_for(conn.engine).keyring(ctx)
    keyring.load(conn)
    return terms.BlindHasher(keyring.blind_key())


# -- state ------------------------------------------------------------------------------------

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


# -- writing ----------------------------------------------------------------------------------

def write(conn: Connection, ctx: Context, docs: Sequence[Document]) -> int:
    """Upsert documents: blind terms, then vectors of their questions (computed once)."""
    if not docs:
        return 0
    hasher = blind_hasher(conn, ctx)
    rows = [_row(ctx, d, hasher) for d in docs]
    ids = [d.doc_id for d in docs]
    for i in range(0, len(ids), 1000):
        conn.execute(delete(assist_documents).where(
            assist_documents.c.tenant_id == ctx.tenant_id,
            assist_documents.c.doc_id.in_(ids[i : i + 1000])))
    bulk_insert(conn, assist_documents, rows)
    _vectors(conn, ctx, docs)
    return len(rows)


def _row(ctx: Context, d: Document, hasher: terms.BlindHasher) -> dict[str, Any]:
    hashes, tf = hasher.counts(d.search_text, d.language or "en")
    return {"tenant_id": ctx.tenant_id, "doc_id": d.doc_id, "kind": d.kind,
            "source_id": d.source_id, "question_event": d.question_event,
            "answer_event": d.answer_event, "seq": d.seq, "subject": d.subject,
            "language": d.language, "category": d.category, "intent": d.intent,
            "occurred_at": d.occurred_at, "length": int(tf.sum()),
            "terms": terms.pack(hashes, tf)}


def _vectors(conn: Connection, ctx: Context, docs: Sequence[Document]) -> None:
    encoder = env_for(conn.engine).encoder()
    wanted = {d.question_event: d for d in docs}
    have: set[str] = set()
    keys = list(wanted)
    for i in range(0, len(keys), 1000):
        have.update(conn.execute(select(event_embeddings.c.event_id).where(
            event_embeddings.c.tenant_id == ctx.tenant_id,
            event_embeddings.c.encoder == encoder.name,
            event_embeddings.c.event_id.in_(keys[i : i + 1000]))).scalars())
    todo = [d for e, d in wanted.items() if e not in have]
    if not todo:
        return
    vectors = encoder.encode([d.vector_text for d in todo])
    bulk_insert(conn, event_embeddings, [
        {"tenant_id": ctx.tenant_id, "event_id": d.question_event, "encoder": encoder.name,
         "subject": d.subject, "dim": int(v.shape[0]),
         "vector": np.asarray(v, dtype=np.float32).tobytes()}
        for d, v in zip(todo, vectors, strict=True)])


def index_batch(conn: Connection, ctx: Context, batch: Sequence[Event], *,
                sealed: bool = True) -> int:
    """Index a batch of events (as stored when ``sealed``) in the caller's transaction."""
    opened = documents.opened(conn, ctx, batch) if sealed else list(batch)
    return write(conn, ctx, documents.from_events(conn, ctx, opened))


def on_append(conn: Connection, ctx: Context, batch: Sequence[Event]) -> None:
    """Projector: keep an enabled tenant's index current, in the append's transaction."""
    if not batch or read_state(conn, ctx) is None:
        return
    if not any(e.type in documents.KB_TYPES or e.type == "ticket.resolved" for e in batch):
        conn.execute(update(assist_state).where(assist_state.c.tenant_id == ctx.tenant_id)
                     .values(position=batch[-1].seq))  # nothing to search changed
        return
    index_batch(conn, ctx, batch)
    bump(conn, ctx, batch[-1].seq)


register_projector("assist", on_append)


# -- enabling ---------------------------------------------------------------------------------

def enable(db: Database, ctx: Context) -> bool:
    """Index the tenant from now on, catching up with the log once. Returns True when the
    tenant was newly enabled."""
    with db.begin(ctx.tenant_id) as conn:
        if read_state(conn, ctx) is not None:
            return False
        encoder = env_for(conn.engine).encoder()
        conn.execute(insert(assist_state).values(
            tenant_id=ctx.tenant_id, position=0, generation=0, encoder=encoder.name,
            threshold=DEFAULT_THRESHOLD))
    _catch_up(db, ctx)
    return True


def _catch_up(db: Database, ctx: Context) -> None:
    """Every article and resolved ticket already in the log (appends after ``enable`` are
    indexed by the projector; a document indexed twice is simply replaced)."""
    pending: list[Event] = []
    for ev in log.iter_events(db, ctx):
        if ev.type in documents.KB_TYPES or ev.type == "ticket.resolved":
            pending.append(ev)
        if len(pending) >= _CATCH_UP_BATCH:
            _index_opened(db, ctx, pending)
            pending = []
    _index_opened(db, ctx, pending)


def _index_opened(db: Database, ctx: Context, batch: list[Event]) -> None:
    with db.begin(ctx.tenant_id) as conn:
        if batch:
            index_batch(conn, ctx, batch, sealed=False)
        bump(conn, ctx)
