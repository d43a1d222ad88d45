"""Support analytics: metrics, process view, root-cause clusters, charts.

    data = tenant.analytics.report(period="month", by=("group", "priority"))
    write_charts(data, Path("charts"))                 # PNGs + report.html
    topics = tenant.analytics.clusters(method="kmeans")
    tenant.analytics.set_sla_target("1 - Critical", resolution_hours=4)

Modules, one job each: ``loading`` (tenant-scoped read into DuckDB), ``metrics`` (times,
rates, SLA, backlog, breakdowns), ``flow`` (ping-pong, process paths), ``sentiment``
(lexicon trend), ``clusters`` (embeddings, k-means/HDBSCAN, c-TF-IDF, emerging), ``charts``
(matplotlib + HTML), ``sla`` (per-priority targets), ``report`` (puts them together),
``facade`` (``Analytics``: the calls every face makes, built by ``Tenant.analytics``).
"""

from __future__ import annotations

from supportops.analytics.charts import write_charts
from supportops.analytics.clusters import clusters, default_embedder
from supportops.analytics.facade import Analytics
from supportops.analytics.report import DEFINITIONS, compute, report
from supportops.analytics.sla import SlaTarget, remove_target, set_target, targets

__all__ = ["DEFINITIONS", "Analytics", "SlaTarget", "clusters", "compute", "default_embedder",
           "remove_target", "report", "set_target", "targets", "write_charts"]
