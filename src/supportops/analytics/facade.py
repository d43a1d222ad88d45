"""The analytics room behind one object, so that every face (CLI, API, console) makes the
same calls and none assembles database handles, contexts or encoder paths itself.

    analytics = tenant.analytics          # built by ``Tenant`` from its db, ctx, encoder dir
    analytics.report(period="month", by=["group"])
    analytics.clusters(method="kmeans", k=20)
    analytics.set_sla_target("1 - Critical", resolution_hours=4)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from supportops.analytics.clusters import Embed, default_embedder
from supportops.analytics.clusters import clusters as cluster_texts
from supportops.analytics.report import READ_ROLES
from supportops.analytics.report import report as build_report
from supportops.analytics.sla import SlaTarget, remove_target, set_target, targets
from supportops.governance.context import Context
from supportops.storage import Database

When = date | datetime | str | None


class Analytics:
    """Reports, root-cause clusters and SLA targets of one tenant, acting as ``ctx``.

    The sentence embedder is built on first use and kept: a handle that lives across requests
    (the API keeps one per principal) loads the encoder once, not per call.
    """

    def __init__(self, db: Database, ctx: Context, encoder_dir: Path | None,
                 embed: Embed | None = None) -> None:
        self.db = db
        self.ctx = ctx
        self.encoder_dir = encoder_dir
        self._embed = embed

    @property
    def embed(self) -> Embed:
        """MiniLM embeddings (int8 ONNX kept in ``encoder_dir``), built once."""
        if self._embed is None:
            self._embed = default_embedder(self.encoder_dir)
        return self._embed

    def report(self, *, start: When = None, end: When = None, period: str = "week",
               by: Sequence[str] = (), top: int = 10) -> dict[str, Any]:
        """The support report for tickets opened in ``[start, end)`` (``analytics report``)."""
        return build_report(self.db, self.ctx, start=start, end=end, period=period, by=by,
                            top=top)

    def clusters(self, *, start: When = None, end: When = None, method: str = "kmeans",
                 k: int | None = None, period: str = "week", top: int = 20,
                 with_assignments: bool = False) -> dict[str, Any]:
        """Root-cause clusters of ticket texts opened in ``[start, end)``, named by
        distinctive terms, with trend and emerging flags (``analytics clusters``)."""
        # the encoder loads on the first texts to embed: a refused call, a bad option or an
        # empty window costs no model load
        return cluster_texts(self.db, self.ctx, lambda texts: self.embed(texts), start=start,
                             end=end, method=method, k=k, period=period, top=top,
                             with_assignments=with_assignments)

    def sla_targets(self) -> list[SlaTarget]:
        """The tenant's SLA targets, by priority name."""
        self.ctx.require(*READ_ROLES, action="read SLA targets")
        return targets(self.db, self.ctx)

    def set_sla_target(self, priority: str, *, first_response_hours: float | None = None,
                       resolution_hours: float | None = None) -> SlaTarget:
        """Create or replace the target of one priority (admins only)."""
        return set_target(self.db, self.ctx, SlaTarget(priority, first_response_hours, resolution_hours))

    def remove_sla_target(self, priority: str) -> bool:
        """Drop the target of one priority; returns whether there was one (admins only)."""
        return remove_target(self.db, self.ctx, priority)
