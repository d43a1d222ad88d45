"""The answer assistant as agents judged its drafts (``assist.feedback`` events), for
``monitor status``: verdict counts overall and per model and index version, and the
knowledge-base articles whose drafts were rejected most. Reads the log, never the assistant's
own tables, so it needs none of the assistant's libraries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select

from supportops.assist.feedback import EVENT, VERDICTS
from supportops.governance.context import Context
from supportops.storage import Database
from supportops.storage.schema import events

#: How many of the most rejected articles the status lists.
WORST_ARTICLES = 5
KB_PREFIX = "kb:"


def assistant_feedback(db: Database, ctx: Context, since: datetime | None = None,
                       worst: int = WORST_ARTICLES) -> dict[str, Any]:
    """Verdicts on drafts given at or after ``since`` (all when ``None``)."""
    summary = summarise(_payloads(db, ctx, since), worst)
    return {"since": since.isoformat() if since else None, **summary}


def _payloads(db: Database, ctx: Context, since: datetime | None) -> list[dict[str, Any]]:
    """Payloads of the tenant's unredacted verdicts (the fields read here are codes, stored
    in clear: no key is needed)."""
    query = select(events.c.payload).where(
        events.c.tenant_id == ctx.tenant_id, events.c.type == EVENT,
        events.c.redacted_at.is_(None))
    if since is not None:
        query = query.where(events.c.occurred_at >= since)
    with db.begin(ctx.tenant_id) as conn:
        return [orjson.loads(p) for p in conn.execute(query).scalars()]


def summarise(payloads: Iterable[dict[str, Any]], worst: int = WORST_ARTICLES
              ) -> dict[str, Any]:
    """Counts and rates overall, per (model, index version), and the ``worst`` articles by
    rejected drafts (then by rejection rate)."""
    judged = [p for p in payloads if p.get("verdict") in VERDICTS]
    versions: dict[tuple[str, str], Counter[str]] = {}
    articles: dict[str, Counter[str]] = {}
    for p in judged:
        key = (str(p.get("model")), str(p.get("index_version")))
        versions.setdefault(key, Counter())[p["verdict"]] += 1
        for source in set(p.get("sources") or []):
            if str(source).startswith(KB_PREFIX):
                articles.setdefault(str(source)[len(KB_PREFIX):], Counter())[p["verdict"]] += 1
    return {"judged": len(judged), **_figures(Counter(p["verdict"] for p in judged)),
            "by_version": [{"model": m, "index_version": v, "judged": sum(c.values()),
                            **_figures(c)} for (m, v), c in sorted(versions.items())],
            "worst_articles": _worst(articles, worst)}


def _figures(counts: Counter[str]) -> dict[str, Any]:
    total = sum(counts.values())
    return {"counts": {v: counts[v] for v in VERDICTS},
            "rejection_rate": round(counts["rejected"] / total, 4) if total else None}


def _worst(articles: dict[str, Counter[str]], n: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"article_id": a, "cited": sum(c.values()), "rejected": c["rejected"],
         "rejection_rate": round(c["rejected"] / sum(c.values()), 4)}
        for a, c in articles.items() if c["rejected"]]
    rows.sort(key=lambda r: (-r["rejected"], -r["rejection_rate"], r["article_id"]))
    return rows[:n]
