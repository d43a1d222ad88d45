"""Small inline SVG charts drawn from a report's numbers: no image files, no plotting library
in the server, and they scale to a phone's width. Every label is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

W, H, PAD = 640, 260, 40
COLOURS = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700")


def _frame(title: str, body: str, legend: Sequence[str] = ()) -> Markup:
    keys = "".join(f'<text x="{PAD + 120 * i + 14}" y="16" font-size="12">{escape(name)}</text>'
                   f'<rect x="{PAD + 120 * i}" y="6" width="10" height="10" '
                   f'fill="{COLOURS[i % len(COLOURS)]}"/>' for i, name in enumerate(legend))
    return Markup(f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" '
                  f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
                  f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - 10}" y2="{H - PAD}" '
                  f'stroke="#888"/>{keys}{body}</svg>')


def _scale(values: Sequence[float]) -> float:
    top = max([v for v in values if v is not None] or [0.0])
    return (H - 2 * PAD) / top if top > 0 else 0.0


def lines(title: str, labels: Sequence[str], series: dict[str, Sequence[float]]) -> Markup:
    """One polyline per series over the same x labels (first and last label shown)."""
    if not labels:
        return Markup("")
    k = _scale([v for values in series.values() for v in values])
    step = (W - PAD - 10) / max(len(labels) - 1, 1)
    body = ""
    for i, values in enumerate(series.values()):
        points = " ".join(f"{PAD + j * step:.1f},{H - PAD - (v or 0) * k:.1f}"
                          for j, v in enumerate(values))
        body += (f'<polyline fill="none" stroke-width="2" stroke="{COLOURS[i % len(COLOURS)]}" '
                 f'points="{points}"/>')
    top = max([v or 0 for values in series.values() for v in values] or [0])
    body += (f'<text x="{PAD}" y="{H - 12}" font-size="11">{escape(labels[0])}</text>'
             f'<text x="{W - 10}" y="{H - 12}" font-size="11" text-anchor="end">'
             f'{escape(labels[-1])}</text>'
             f'<text x="4" y="{PAD}" font-size="11">{top:g}</text>')
    return _frame(title, body, list(series))


def bars(title: str, labels: Sequence[str], values: Sequence[float | None]) -> Markup:
    """Vertical bars, one per label, the value written above each."""
    if not labels:
        return Markup("")
    k = _scale([v or 0 for v in values])
    width = (W - PAD - 10) / len(labels)
    body = ""
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x, height = PAD + i * width, (value or 0) * k
        body += (f'<rect x="{x + 4:.1f}" y="{H - PAD - height:.1f}" width="{width - 8:.1f}" '
                 f'height="{height:.1f}" fill="{COLOURS[0]}"/>'
                 f'<text x="{x + width / 2:.1f}" y="{H - PAD - height - 4:.1f}" font-size="11" '
                 f'text-anchor="middle">{"-" if value is None else f"{value:.3g}"}</text>'
                 f'<text x="{x + width / 2:.1f}" y="{H - PAD + 14}" font-size="11" '
                 f'text-anchor="middle">{escape(str(label)[:18])}</text>')
    return _frame(title, body)
