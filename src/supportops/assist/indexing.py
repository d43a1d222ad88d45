"""Writing the index: blind terms and vectors, in the caller's (the append's) transaction.

A tenant is indexed once the assistant is enabled for it (``enable``: the first load of a
knowledge base or the first question), which catches up with the log; from then on the
projector of ``state.py`` hands each appended batch to :func:`index_batch`: blind terms into
``assist_documents`` and MiniLM vectors into the per-event embedding cache. Never rebuilt
per query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, insert, select

from supportops.assist import documents, terms
from supportops.assist.documents import Document
from supportops.assist.state import DEFAULT_THRESHOLD, INDEXED_TYPES, bump, index_env, read_state
from supportops.assist.tables import assist_documents, assist_state
from supportops.events import cipher, log
from supportops.events.schemas import Event
from supportops.governance.context import Context
from supportops.ml.tables import event_embeddings
from supportops.storage import Database
from supportops.storage.bulk import bulk_insert

_CATCH_UP_BATCH = 2000
#: Weight of the answer-lead vector in a document's vector (chosen on StackFAQ's half-0
#: paraphrases: P@1 0.942 title alone, 0.956 at 0.2, 0.954 at 0.5).
LEAD_WEIGHT = 0.2


def blind_hasher(conn: Connection, ctx: Context) -> terms.BlindHasher:
    keyring = index_env(conn).keyring(ctx)
    keyring.load(conn)
    return terms.BlindHasher(keyring.blind_key())


# -- writing ----------------------------------------------------------------------------------

def write(conn: Connection, ctx: Context, docs: Sequence[Document]) -> int:
    """Upsert documents: blind terms, then vectors of their questions (computed once)."""
    if not docs:
        return 0
    hasher = blind_hasher(conn, ctx)
    sealed, refs = _subject_names(conn, ctx, docs)
    rows = [{**_row(ctx, d, hasher), "subject": name} for d, name in zip(docs, sealed, strict=True)]
    ids = [d.doc_id for d in docs]
    for i in range(0, len(ids), 1000):
        conn.execute(delete(assist_documents).where(
            assist_documents.c.tenant_id == ctx.tenant_id,
            assist_documents.c.doc_id.in_(ids[i : i + 1000])))
    bulk_insert(conn, assist_documents, rows)
    _vectors(conn, ctx, docs, dict(zip((d.doc_id for d in docs), refs, strict=True)))
    return len(rows)


def _subject_names(conn: Connection, ctx: Context, docs: Sequence[Document]
                   ) -> tuple[list[str | None], list[str | None]]:
    """How each document's customer is named at rest: sealed under the customer's key in
    ``assist_documents`` (as ``events.subject``), by keyed reference in the embedding cache
    (as ``ml/embedding_cache.py``), so a deleted row's bytes name no token."""
    tokens = cipher.open_subjects(conn, ctx, [d.subject for d in docs])
    refs = cipher.subject_refs(conn, ctx, sorted({t for t in tokens if t}))
    return cipher.seal_subjects(conn, ctx, tokens), [refs.get(t) if t else None for t in tokens]


def _row(ctx: Context, d: Document, hasher: terms.BlindHasher) -> dict[str, Any]:
    hashes, tf = hasher.counts(d.search_text, d.language or "en")
    return {"tenant_id": ctx.tenant_id, "doc_id": d.doc_id, "kind": d.kind,
            "source_id": d.source_id, "question_event": d.question_event,
            "answer_event": d.answer_event, "seq": d.seq, "subject": d.subject,
            "language": d.language, "category": d.category, "intent": d.intent,
            "occurred_at": d.occurred_at, "length": int(tf.sum()),
            "terms": terms.pack(hashes, tf)}


def _vectors(conn: Connection, ctx: Context, docs: Sequence[Document],
             refs: dict[str, str | None]) -> None:
    encoder = index_env(conn).encoder()
    name = vector_name(encoder)
    wanted = {d.question_event: d for d in docs}
    have: set[str] = set()
    keys = list(wanted)
    for i in range(0, len(keys), 1000):
        have.update(conn.execute(select(event_embeddings.c.event_id).where(
            event_embeddings.c.tenant_id == ctx.tenant_id,
            event_embeddings.c.encoder == name,
            event_embeddings.c.event_id.in_(keys[i : i + 1000]))).scalars())
    todo = [d for e, d in wanted.items() if e not in have]
    if not todo:
        return
    vectors = document_vectors(encoder, todo)
    bulk_insert(conn, event_embeddings, [
        {"tenant_id": ctx.tenant_id, "event_id": d.question_event, "encoder": name,
         "subject": refs.get(d.doc_id), "dim": int(v.shape[0]),
         "vector": np.asarray(v, dtype=np.float32).tobytes()}
        for d, v in zip(todo, vectors, strict=True)])


def vector_name(encoder: Any) -> str:
    """The embedding cache's name for document vectors (not plain encodings of one text)."""
    return f"{encoder.name}|doc{LEAD_WEIGHT}"


def document_vectors(encoder: Any, docs: Sequence[Document]) -> np.ndarray[Any, Any]:
    """Per document: the title-and-question vector plus ``LEAD_WEIGHT`` times the vector of
    the same with the answer's lead (dot products add, so one vector scores both),
    normalised; an untitled document's vector is its answer's."""
    texts = [d.vector_texts for d in docs]
    flat = encoder.encode([t for group in texts for t in group])
    out = np.empty((len(docs), flat.shape[1]), dtype=np.float32)
    at = 0
    for i, group in enumerate(texts):
        vec = flat[at] if len(group) == 1 else flat[at] + LEAD_WEIGHT * flat[at + 1]
        out[i] = vec / max(float(np.linalg.norm(vec)), 1e-12)
        at += len(group)
    return out


def index_batch(conn: Connection, ctx: Context, batch: Sequence[Event], *,
                sealed: bool = True) -> int:
    """Index a batch of events (as stored when ``sealed``) in the caller's transaction."""
    opened = documents.opened(conn, ctx, batch) if sealed else list(batch)
    return write(conn, ctx, documents.from_events(conn, ctx, opened))


# -- enabling ---------------------------------------------------------------------------------

def enable(db: Database, ctx: Context) -> bool:
    """Index the tenant from now on, catching up with the log once. Returns True when the
    tenant was newly enabled."""
    with db.begin(ctx.tenant_id) as conn:
        if read_state(conn, ctx) is not None:
            return False
        encoder = index_env(conn).encoder()
        conn.execute(insert(assist_state).values(
            tenant_id=ctx.tenant_id, position=0, generation=0, encoder=vector_name(encoder),
            threshold=DEFAULT_THRESHOLD))
    _catch_up(db, ctx)
    return True


def _catch_up(db: Database, ctx: Context) -> None:
    """Every article and resolved ticket already in the log (appends after ``enable`` are
    indexed by the projector; a document indexed twice is simply replaced)."""
    pending: list[Event] = []
    for ev in log.iter_events(db, ctx):
        if ev.type in INDEXED_TYPES:
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
