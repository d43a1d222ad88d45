"""Live traffic: the latest prediction records of a champion checked against its reference
(input drift on the embeddings of stored tickets, label mix, estimated accuracy), and the
per-version figures ``monitor status`` shows (latency percentiles, abstention, accuracy and
coverage from feedback)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from sqlalchemy import select

from supportops.events import log
from supportops.governance.context import Context
from supportops.monitor import stats
from supportops.monitor.feedback import FEEDBACK
from supportops.monitor.reference import ABSTAINED
from supportops.monitor.tables import prediction_records
from supportops.storage import Database

#: A check looks at no more than this many of the latest records.
LIVE_WINDOW = 1000


def latest_records(db: Database, ctx: Context, name: str, version: str,
                   alias: str = "champion", limit: int = LIVE_WINDOW) -> list[dict[str, Any]]:
    """The latest prediction records of one version, oldest first."""
    t = prediction_records
    with db.begin(ctx.tenant_id) as conn:
        rows = conn.execute(select(t).where(
            t.c.tenant_id == ctx.tenant_id, t.c.name == name, t.c.version == version,
            t.c.alias == alias).order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit)
        ).mappings().all()
    return [dict(r) for r in reversed(rows)]


def label_mix(records: list[dict[str, Any]]) -> Counter[str]:
    return Counter(ABSTAINED if r["abstained"] else str(r["label"]) for r in records)


def per_version(db: Database, ctx: Context, name: str) -> dict[str, dict[str, Any]]:
    """Served records per version: count, abstention/coverage, latency percentiles; and, from
    feedback, accuracy of the versions' predictions that people judged."""
    t = prediction_records
    with db.begin(ctx.tenant_id) as conn:
        rows = conn.execute(select(t.c.version, t.c.alias, t.c.abstained, t.c.latency_ms).where(
            t.c.tenant_id == ctx.tenant_id, t.c.name == name)).all()
    out: dict[str, dict[str, Any]] = {}
    for version in sorted({r.version for r in rows}, key=_version_key):
        mine = [r for r in rows if r.version == version]
        abstained = float(np.mean([bool(r.abstained) for r in mine]))
        out[version] = {"served": len(mine), "aliases": sorted({r.alias for r in mine}),
                        "abstention_rate": round(abstained, 4),
                        "coverage": round(1 - abstained, 4),
                        "latency_ms": stats.percentiles([float(r.latency_ms) for r in mine])}
    for version, figures in feedback_accuracy(db, ctx, name).items():
        out.setdefault(version, {"served": 0}).update(figures)
    return out


def feedback_accuracy(db: Database, ctx: Context, name: str) -> dict[str, dict[str, Any]]:
    """Per version: how many predictions people judged and the share they accepted."""
    judged: dict[str, list[bool]] = {}
    for e in log.tail(db, ctx, 10_000_000, FEEDBACK):
        p = e.payload
        if p.get("model_name") == name and p.get("predicted") is not None:
            judged.setdefault(str(p["version"]), []).append(p["predicted"] == p["final"])
    return {v: {"feedback": len(j), "accuracy_from_feedback": round(float(np.mean(j)), 4)}
            for v, j in judged.items()}


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (0, version)
