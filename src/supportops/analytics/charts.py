"""Charts of a report: PNG files (matplotlib, Agg backend) and one HTML page showing them.

For people who would rather look than read; every chart is drawn from the report dict
alone, so a saved JSON report can be charted again later.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

Chart = Callable[[Any, dict[str, Any]], bool]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _resolution(ax: Any, data: dict[str, Any]) -> bool:
    by = data["resolution_hours"]["by_priority"]
    if not by:
        return False
    names = list(by)
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [by[n]["median"] for n in names], 0.4, label="median")
    ax.bar([x + 0.2 for x in xs], [by[n]["p90"] for n in names], 0.4, label="p90")
    ax.set_xticks(list(xs), names, rotation=20)
    ax.set_ylabel("hours")
    ax.set_title("Resolution time by priority")
    ax.legend()
    return True


def _backlog(ax: Any, data: dict[str, Any]) -> bool:
    points = data["backlog"]
    if not points:
        return False
    ax.plot([p["period"] for p in points], [p["open"] for p in points], marker=".")
    ax.set_ylabel("open tickets")
    ax.set_title(f"Backlog at the end of each {data['period']}")
    return True


def _volume(ax: Any, data: dict[str, Any]) -> bool:
    points = data["periods"]
    if not points:
        return False
    ax.plot([p["period"] for p in points], [p["opened"] for p in points], label="opened")
    ax.plot([p["period"] for p in points], [p["resolved"] for p in points], label="resolved")
    ax.set_title(f"Tickets opened per {data['period']}")
    ax.legend()
    return True


def _reassignments(ax: Any, data: dict[str, Any]) -> bool:
    dist = data["reassignments"]["distribution"]
    if not dist:
        return False
    ax.bar(list(dist), list(dist.values()))
    ax.set_xlabel("reassignments")
    ax.set_ylabel("tickets")
    ax.set_title("Reassignment distribution")
    return True


def _barh(ax: Any, rows: list[dict[str, Any]], label: str, value: str, title: str) -> bool:
    if not rows:
        return False
    ax.barh([r[label] for r in rows][::-1], [r[value] for r in rows][::-1])
    ax.set_title(title)
    return True


def _top_volume(ax: Any, data: dict[str, Any]) -> bool:
    return _barh(ax, data["top_groups"]["by_volume"], "group", "tickets",
                 "Top groups by volume")


def _top_ping_pong(ax: Any, data: dict[str, Any]) -> bool:
    return _barh(ax, data["top_groups"]["by_ping_pong"], "group", "returns",
                 "Top groups by ping-pong (returns)")


def _paths(ax: Any, data: dict[str, Any]) -> bool:
    rows = [{"path": r["path"][:60], "tickets": r["tickets"]}
            for r in data["process"]["status_paths"]]
    return _barh(ax, rows, "path", "tickets", "Most common status paths")


def _sentiment(ax: Any, data: dict[str, Any]) -> bool:
    points = data["sentiment"]["trend"]
    if not points:
        return False
    ax.plot([p["period"] for p in points], [p["mean"] for p in points], marker=".")
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_title("Sentiment (lexicon score) per period")
    return True


_OVER_TIME = frozenset({"backlog", "volume", "sentiment"})
CHARTS: dict[str, Chart] = {
    "resolution_by_priority": _resolution, "backlog": _backlog, "volume": _volume,
    "reassignments": _reassignments, "top_groups_volume": _top_volume,
    "top_groups_ping_pong": _top_ping_pong, "status_paths": _paths, "sentiment": _sentiment,
}


def write_charts(data: dict[str, Any], out: Path) -> list[Path]:
    """Draw every chart the report has data for into ``out``; returns the files written
    (PNGs, then ``report.html``)."""
    plt = _pyplot()
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, draw in CHARTS.items():
        fig, ax = plt.subplots(figsize=(8, 4.5))
        try:
            if draw(ax, data):
                if name in _OVER_TIME:
                    fig.autofmt_xdate()
                fig.tight_layout()
                path = out / f"{name}.png"
                fig.savefig(path, dpi=100)
                written.append(path)
        finally:
            plt.close(fig)
    page = out / "report.html"
    page.write_text(_html(data, written), encoding="utf-8")
    return [*written, page]


def _html(data: dict[str, Any], charts: list[Path]) -> str:
    res = data["resolution_hours"]["overall"]
    facts = [("tickets", data["tickets"]), ("resolved", data["resolved"]),
             ("median resolution (h)", res["median"]), ("p90 resolution (h)", res["p90"]),
             ("reopen rate", data["reopen_rate"]),
             ("mean reassignments", data["reassignments"]["mean"]),
             ("ping-pong rate", data["ping_pong"]["rate"])]
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{_cell(v)}</td></tr>" for k, v in facts)
    imgs = "".join(f'<figure><img src="{html.escape(p.name)}" alt="{html.escape(p.stem)}">'
                   f"</figure>" for p in charts)
    title = html.escape(f"Support report: {data['tenant']}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
            "<style>body{font-family:sans-serif;max-width:900px;margin:auto}"
            "img{max-width:100%}th{text-align:left;padding-right:1em}</style></head>"
            f"<body><h1>{title}</h1><table>{rows}</table>{imgs}</body></html>")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))
