"""The analytics dashboard: headline figures and charts of ``tenant.analytics.report``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from markupsafe import Markup

from supportops.web import svg
from supportops.web.core import PREFIX, Console, route_class

PERIODS = ("day", "week", "month")


def headline(report: dict[str, Any]) -> list[tuple[str, Any]]:
    """The figures a lead reads first, as (label, value)."""
    overall = report["resolution_hours"]["overall"]
    return [("tickets", report["tickets"]), ("resolved", report["resolved"]),
            ("median resolution (h)", overall["median"]), ("p90 resolution (h)", overall["p90"]),
            ("reopen rate", report["reopen_rate"]),
            ("first-contact resolution", report["first_contact_resolution"]["rate"]),
            ("ping-pong tickets", report["ping_pong"]["tickets"])]


def charts(report: dict[str, Any]) -> list[tuple[str, Markup]]:
    """(title, inline SVG) of volume, backlog, resolution by priority and busiest groups."""
    periods = report["periods"]
    backlog = report["backlog"]
    by_priority = report["resolution_hours"]["by_priority"]
    groups = report["top_groups"]["by_volume"]
    volume = f"Tickets opened and resolved per {report['period']}"
    open_at = f"Backlog at the end of each {report['period']}"
    drawn = [
        (volume, svg.lines(volume, [str(p["period"])[:10] for p in periods],
                           {"opened": [p["opened"] for p in periods],
                            "resolved": [p["resolved"] for p in periods]})),
        (open_at, svg.lines(open_at, [str(p["period"])[:10] for p in backlog],
                            {"open": [p["open"] for p in backlog]})),
        ("Median resolution hours by priority",
         svg.bars("Median resolution hours by priority", list(by_priority),
                  [v["median"] for v in by_priority.values()])),
        ("Top groups by volume", svg.bars("Top groups by volume", [g["group"] for g in groups],
                                          [g["tickets"] for g in groups])),
    ]
    return [(title, chart) for title, chart in drawn if chart]


def router(console: Console) -> APIRouter:
    pages = APIRouter(prefix=PREFIX, route_class=route_class(console))

    @pages.get("/analytics", include_in_schema=False)
    def analytics_page(request: Request, period: str = "week") -> Response:
        visit = console.visit(request)
        period = period if period in PERIODS else "week"
        report = visit.tenant.analytics.report(period=period)
        return console.render(request, "analytics.html", visit, report=report, period=period,
                              periods=PERIODS, facts=headline(report), charts=charts(report))

    return pages
