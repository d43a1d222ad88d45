"""Embeddings cached per event, beside the rows they describe.

Nothing is embedded twice: vectors are stored per (event, encoder) in ``event_embeddings``
and loaded into the encoder's in-memory cache before training or batch inference. Erasure
purges a subject's vectors in its own transaction (``ml/erasure.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import select

from supportops.events import cipher
from supportops.governance.context import Context
from supportops.ml.embeddings import Encoder
from supportops.ml.tables import event_embeddings
from supportops.storage import Database
from supportops.storage.bulk import bulk_insert

_CHUNK = 2000


def warm(db: Database, ctx: Context, encoder: Encoder, event_ids: Sequence[str | None],
         texts: Sequence[str], subjects: Sequence[str | None] | None = None) -> dict[str, int]:
    """Load stored vectors for these events into ``encoder``'s cache; encode and store the
    rest. Returns how many were found and how many were computed."""
    keyed = [(e, t, subjects[i] if subjects else None)
             for i, (e, t) in enumerate(zip(event_ids, texts, strict=True)) if e]
    found: dict[str, bytes] = {}
    with db.begin(ctx.tenant_id) as conn:
        for i in range(0, len(keyed), _CHUNK):
            ids = [k[0] for k in keyed[i : i + _CHUNK]]
            for event_id, blob in conn.execute(select(
                    event_embeddings.c.event_id, event_embeddings.c.vector).where(
                    event_embeddings.c.tenant_id == ctx.tenant_id,
                    event_embeddings.c.encoder == encoder.name,
                    event_embeddings.c.event_id.in_(ids))):
                found[event_id] = blob
    for event_id, text, _ in keyed:
        if event_id in found:
            encoder.remember(text, np.frombuffer(found[event_id], dtype=np.float32))
    missing = [(e, t, s) for e, t, s in keyed if e not in found]
    if missing:
        vectors = encoder.encode([t for _, t, _ in missing])
        with db.begin(ctx.tenant_id) as conn:
            # rows name the subject by keyed reference: a deleted row's bytes name no token
            refs = cipher.subject_refs(conn, ctx, sorted({s for _, _, s in missing if s}))
            rows = [{"tenant_id": ctx.tenant_id, "event_id": e, "encoder": encoder.name,
                     "subject": refs.get(s) if s else None, "dim": int(v.shape[0]),
                     "vector": v.astype(np.float32).tobytes()}
                    for (e, _, s), v in zip(missing, vectors, strict=True)]
            for i in range(0, len(rows), _CHUNK):
                bulk_insert(conn, event_embeddings, rows[i : i + _CHUNK])
    return {"cached": len(found), "computed": len(missing)}

