"""Erasure reaches the assistant's index: the hook that deletes a subject's documents.

Their vectors go with the embedding cache's own hook (``ml/erasure.py``); the generation
bump makes every process's in-memory cache reload before its next search, so no later
answer can cite an erased ticket.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, delete, or_

from supportops.assist.state import bump
from supportops.assist.tables import assist_documents
from supportops.events import cipher
from supportops.governance.context import Context
from supportops.privacy.erasure import ErasureHook

_CHUNK = 1000


def purge(conn: Connection, ctx: Context, subject: str, event_ids: Sequence[str]) -> int:
    """Erasure hook: delete the documents of a subject (by subject and by its events)."""
    d = assist_documents
    removed = conn.execute(delete(d).where(
        d.c.tenant_id == ctx.tenant_id,
        d.c.subject.in_(cipher.subject_forms(conn, ctx, subject)))).rowcount or 0
    for i in range(0, len(event_ids), _CHUNK):
        chunk = list(event_ids[i : i + _CHUNK])
        removed += conn.execute(delete(d).where(
            d.c.tenant_id == ctx.tenant_id,
            or_(d.c.question_event.in_(chunk), d.c.answer_event.in_(chunk)))).rowcount or 0
    if removed:
        bump(conn, ctx)
    return removed


#: The assistant's purge, declared for the composition root (which hands it to erasure).
ERASURE_HOOKS: Mapping[str, ErasureHook] = {"assist_documents": purge}
