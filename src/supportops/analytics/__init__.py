"""Support analytics: metrics, process view, root-cause clusters, charts.

    from supportops.analytics import report
    data = report(ws.db, tenant.ctx, period="month", by=("group", "priority"))
"""

from __future__ import annotations

from supportops.analytics.report import DEFINITIONS, compute, report
from supportops.analytics.sla import SlaTarget, remove_target, set_target, targets

__all__ = ["DEFINITIONS", "SlaTarget", "compute", "remove_target", "report", "set_target",
           "targets"]
