"""Support analytics: metrics, process view, root-cause clusters, charts.

    from supportops.analytics import report, clusters, default_embedder, write_charts
    data = report(ws.db, tenant.ctx, period="month", by=("group", "priority"))
    write_charts(data, Path("charts"))                 # PNGs + report.html
    topics = clusters(ws.db, tenant.ctx, default_embedder(ws.artifacts / "encoders"))

Modules, one job each: ``loading`` (tenant-scoped read into DuckDB), ``metrics`` (times,
rates, SLA, backlog, breakdowns), ``flow`` (ping-pong, process paths), ``sentiment``
(lexicon trend), ``clusters`` (embeddings, k-means/HDBSCAN, c-TF-IDF, emerging), ``charts``
(matplotlib + HTML), ``sla`` (per-priority targets), ``report`` (puts them together).
"""

from __future__ import annotations

from supportops.analytics.charts import write_charts
from supportops.analytics.clusters import clusters, default_embedder
from supportops.analytics.report import DEFINITIONS, compute, report
from supportops.analytics.sla import SlaTarget, remove_target, set_target, targets

__all__ = ["DEFINITIONS", "SlaTarget", "clusters", "compute", "default_embedder",
           "remove_target", "report", "set_target", "targets", "write_charts"]
