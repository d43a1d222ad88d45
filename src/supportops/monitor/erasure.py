"""Erasure reaches prediction records: the hook that deletes a subject's records (they name
the subject and its text's event, though they hold no content)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson
from sqlalchemy import Connection, delete, select, update

from supportops.events import cipher
from supportops.governance.context import Context
from supportops.monitor.tables import model_references, prediction_records
from supportops.privacy.erasure import ErasureHook

_CHUNK = 2000


def purge(conn: Connection, ctx: Context, subject: str, event_ids: Sequence[str]) -> int:
    """Erasure hook: delete the prediction records of a subject and of its events, and
    take its events out of every embedding reference."""
    removed = conn.execute(delete(prediction_records).where(
        prediction_records.c.tenant_id == ctx.tenant_id,
        prediction_records.c.subject.in_(cipher.subject_forms(conn, ctx, subject)))
    ).rowcount or 0
    for i in range(0, len(event_ids), _CHUNK):
        removed += conn.execute(delete(prediction_records).where(
            prediction_records.c.tenant_id == ctx.tenant_id,
            prediction_records.c.embedding_id.in_(list(event_ids[i : i + _CHUNK])))
        ).rowcount or 0
    return removed + _drop_from_references(conn, ctx, set(event_ids))


def _drop_from_references(conn: Connection, ctx: Context, event_ids: set[str]) -> int:
    if not event_ids:
        return 0
    changed = 0
    t = model_references
    for name, version, raw in conn.execute(select(t.c.name, t.c.version, t.c.stats).where(
            t.c.tenant_id == ctx.tenant_id)).all():
        stats = orjson.loads(raw)
        ids = (stats.get("embedding") or {}).get("event_ids") or []
        kept = [i for i in ids if i not in event_ids]
        if len(kept) != len(ids):
            stats["embedding"]["event_ids"] = kept
            conn.execute(update(t).where(t.c.tenant_id == ctx.tenant_id, t.c.name == name,
                                         t.c.version == version)
                         .values(stats=orjson.dumps(stats).decode()))
            changed += len(ids) - len(kept)
    return changed


#: The prediction records' purge, declared for the composition root.
ERASURE_HOOKS: Mapping[str, ErasureHook] = {"prediction_records": purge}
