"""Erasure reaches prediction records: the hook that deletes a subject's records (they name
the subject and its text's event, though they hold no content)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete

from supportops.governance.context import Context
from supportops.monitor.tables import prediction_records
from supportops.privacy.erasure import register_erasure_hook

_CHUNK = 2000


def purge(conn: Connection, ctx: Context, subject: str, event_ids: Sequence[str]) -> int:
    """Erasure hook: delete the prediction records of a subject and of its events."""
    removed = conn.execute(delete(prediction_records).where(
        prediction_records.c.tenant_id == ctx.tenant_id,
        prediction_records.c.subject == subject)).rowcount or 0
    for i in range(0, len(event_ids), _CHUNK):
        removed += conn.execute(delete(prediction_records).where(
            prediction_records.c.tenant_id == ctx.tenant_id,
            prediction_records.c.embedding_id.in_(list(event_ids[i : i + _CHUNK])))
        ).rowcount or 0
    return removed


register_erasure_hook("prediction_records", purge)
