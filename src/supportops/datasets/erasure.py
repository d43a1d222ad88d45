"""Erasure reaches dataset snapshots: the hook that drops a subject's rows from their files.

Declared in :data:`ERASURE_HOOKS` for the composition root, and light to import (pyarrow loads
only when an erasure runs), so every workspace can afford to compose it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson
from sqlalchemy import Connection, select, update

from supportops.datasets.paths import resolve
from supportops.datasets.tables import dataset_snapshots
from supportops.governance.context import Context
from supportops.privacy.erasure import ErasureHook


def purge_subject(conn: Connection, ctx: Context, subject: str, event_ids: Sequence[str]) -> int:
    """Erasure hook: drop the subject's rows from every snapshot file at once, so no bytes of
    its (pseudonymised) text outlive the erasure on disk. The catalogue keeps the digest the
    models were trained on, marks the snapshot ``redacted`` until ``rebuild_flagged`` replaces
    it, and counts what was dropped. Returns the number of rows removed."""
    rows = conn.execute(select(dataset_snapshots).where(
        dataset_snapshots.c.tenant_id == ctx.tenant_id,
        dataset_snapshots.c.state.in_(("current", "redacted")))).all()
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from supportops.datasets.snapshots import rows_digest

    removed = 0
    for row in rows:
        path = resolve(conn, row.path)
        if not path.exists():
            continue
        table = pq.read_table(path)
        keep = pc.invert(pc.fill_null(pc.equal(table.column("subject"), subject), False))
        dropped = table.num_rows - int(pc.sum(keep).as_py() or 0)
        if not dropped:
            continue
        scratch = path.with_suffix(".redacting")
        kept = table.filter(keep)
        pq.write_table(kept, scratch)
        scratch.replace(path)
        exclusions = orjson.loads(row.exclusions)
        exclusions["erased_rows"] = int(exclusions.get("erased_rows", 0)) + dropped
        exclusions["redacted_digest"] = rows_digest(kept.to_pylist())  # Snapshot.read checks it
        conn.execute(update(dataset_snapshots).where(
            dataset_snapshots.c.tenant_id == ctx.tenant_id, dataset_snapshots.c.id == row.id)
            .values(state="redacted", row_count=row.row_count - dropped,
                    exclusions=orjson.dumps(exclusions).decode()))
        removed += dropped
    return removed


#: The snapshots' purge, declared for the composition root (which hands it to erasure).
ERASURE_HOOKS: Mapping[str, ErasureHook] = {"dataset_snapshots": purge_subject}
