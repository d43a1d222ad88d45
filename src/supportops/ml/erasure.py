"""Erasure reaches the embedding cache: the hook that deletes a subject's vectors.

Declared in :data:`ERASURE_HOOKS` for the composition root, and light to import (no numpy, no
encoder), so every workspace can afford to compose it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, delete

from supportops.events import cipher
from supportops.governance.context import Context
from supportops.ml.tables import event_embeddings
from supportops.privacy.erasure import ErasureHook

_CHUNK = 2000


def purge(conn: Connection, ctx: Context, subject: str, event_ids: Sequence[str]) -> int:
    """Erasure hook: delete the vectors of a subject's events."""
    names = [subject, *cipher.subject_refs(conn, ctx, [subject]).values()]
    removed = 0
    removed += conn.execute(delete(event_embeddings).where(
        event_embeddings.c.tenant_id == ctx.tenant_id,
        event_embeddings.c.subject.in_(names))).rowcount or 0
    for i in range(0, len(event_ids), _CHUNK):
        removed += conn.execute(delete(event_embeddings).where(
            event_embeddings.c.tenant_id == ctx.tenant_id,
            event_embeddings.c.event_id.in_(list(event_ids[i : i + _CHUNK])))).rowcount or 0
    return removed


#: The embedding cache's purge, declared for the composition root.
ERASURE_HOOKS: Mapping[str, ErasureHook] = {"event_embeddings": purge}
