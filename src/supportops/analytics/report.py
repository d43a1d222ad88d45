"""The support report: one load, every metric in DuckDB, one JSON-ready dict.

    from supportops.analytics import report
    data = report(ws.db, tenant.ctx, period="week", by=("group",))
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from supportops.analytics import flow, metrics, sentiment, sla
from supportops.analytics.loading import Snapshot, load
from supportops.errors import ValidationFailed
from supportops.governance.context import Context, Role
from supportops.storage import Database

READ_ROLES: tuple[Role, ...] = ("admin", "analyst", "ml_engineer")

DEFINITIONS = {
    "quantiles": "median and p90 by linear interpolation between order statistics "
                 "(DuckDB quantile_cont = pandas/NumPy default 'linear')",
    "resolution_hours": "resolved_at - opened_at as the ticket's latest state gives them; "
                        "never-resolved tickets left out",
    "first_response_hours": "first public agent message - opened_at",
    "reopen_rate": "share of tickets with reopen_count > 0",
    "reassignments": "reassignment_count as the ticket's latest state gives it",
    "ping_pong": "a group run that enters a group the ticket had left before",
    "first_contact_resolution": "resolved, reopen_count = 0, reassignment_count = 0 and at "
                                "most one public agent reply, over resolved tickets",
    "backlog": "tickets opened before a period's end and not resolved (else closed) by then",
    "sla": "elapsed = (first response | resolution, else close, else last event) - opened_at; "
           "breached when elapsed > the tenant's target for the ticket's priority",
    "sentiment": "lexicon score (positive - negative) / hits of customer texts, in [-1, 1]",
    "window": "tickets opened in [from, to); backlog counts every ticket",
}


def _check(period: str, by: Sequence[str]) -> None:
    if period not in metrics.PERIODS:
        raise ValidationFailed(
            f"The 'period' of a report must be one of {', '.join(metrics.PERIODS)}. "
            f"Got {period!r} instead.")
    for field in by:
        if field not in metrics.DIMENSIONS:
            raise ValidationFailed(
                f"Cannot break a report down by {field!r}; use one of "
                f"{', '.join(metrics.DIMENSIONS)}.")


def as_datetime(value: date | datetime | str | None) -> datetime | None:
    """Accept a date, a datetime or an ISO string; naive values are UTC."""
    if value is None or isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationFailed(
                f"A report bound must be an ISO date such as 2016-03-01. Got {value!r}."
            ) from None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def compute(snap: Snapshot, *, start: datetime | None = None, end: datetime | None = None,
            period: str = "week", by: Sequence[str] = (), top: int = 10,
            sla_targets: Sequence[sla.SlaTarget] = ()) -> dict[str, Any]:
    """Every figure of the report from a loaded snapshot (no database access)."""
    _check(period, by)
    con = snap.con
    metrics.select_window(con, start, end)
    flow.build(con)
    head = metrics.counts(con)
    ping_pong = flow.ping_pong(con, head["tickets"], top)
    targets = {t.priority: {"first_response_hours": t.first_response_hours,
                            "resolution_hours": t.resolution_hours} for t in sla_targets}
    return {
        "tenant": snap.tenant_id, "log_position": snap.log_position, "as_of": snap.as_of,
        "window": {"from": start, "to": end}, "period": period,
        **head,
        "resolution_hours": metrics.durations(con, metrics.RES_H),
        "first_response_hours": metrics.durations(con, metrics.FR_H),
        "sla": {"resolution": metrics.sla_breaches(con, targets, "resolution", snap.as_of),
                "first_response": metrics.sla_breaches(con, targets, "first_response",
                                                       snap.as_of),
                "source_made_sla": metrics.source_made_sla(con)},
        "first_contact_resolution": metrics.first_contact_resolution(con),
        "satisfaction": metrics.satisfaction(con),
        "ping_pong": ping_pong,
        "top_groups": {"by_volume": flow.top_groups_by_volume(con, top),
                       "by_ping_pong": ping_pong["top_groups"]},
        "periods": metrics.period_table(con, period),
        "backlog": metrics.backlog(con, period, start, end),
        "sentiment": sentiment.trend(con, period),
        "process": flow.process_view(con, top),
        "breakdowns": {field: metrics.breakdown(con, field) for field in by},
        "definitions": DEFINITIONS,
    }


def report(db: Database, ctx: Context, *, start: date | datetime | str | None = None,
           end: date | datetime | str | None = None, period: str = "week",
           by: Sequence[str] = (), top: int = 10) -> dict[str, Any]:
    """The tenant's support report for tickets opened in ``[start, end)``."""
    ctx.require(*READ_ROLES, action="read analytics reports")
    _check(period, by)
    lo, hi = as_datetime(start), as_datetime(end)
    began = time.perf_counter()
    snap = load(db, ctx, lo, hi)
    loaded = time.perf_counter()
    try:
        data = compute(snap, start=lo, end=hi, period=period, by=by, top=top,
                       sla_targets=sla.targets(db, ctx))
    finally:
        snap.con.close()
    data["timing_s"] = {"load": round(loaded - began, 3),
                        "compute": round(time.perf_counter() - loaded, 3)}
    return data
