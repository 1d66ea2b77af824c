"""A small line chart drawn on the server as SVG (no script, nothing inline but SVG's own
presentation attributes: the CSP stays strict, docs/cockpit.md "The dashboard"). A chart
is days along the bottom and one line per series; each point has a tooltip (`<title>`)."""

from __future__ import annotations

from datetime import date
from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28
# Colour-blind-safe (Okabe-Ito), one per series in order.
COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9")


def _ceiling(value: float) -> float:
    """A round top for the axis: 1, 2, 5, 10, 20, 50 … at or above `value`."""
    magnitude = 1.0
    while magnitude * 10 < value:
        magnitude *= 10
    return next(magnitude * f for f in (1, 2, 5, 10) if magnitude * f >= value)


def line_chart(*, days: list[date], series: list[tuple[str, list[float]]], label: str) -> SafeString:
    """`series`: (name, one value per day). Every text is escaped."""
    top = _ceiling(max((v for _, values in series for v in values), default=0) or 1)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = inner_w / max(len(days) - 1, 1)

    def x(i: int) -> float:
        return LEFT + i * step if len(days) > 1 else LEFT + inner_w / 2

    def y(v: float) -> float:
        return TOP + inner_h - v * inner_h / top

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trend-chart" role="img" '
        f'aria-label="{escape(label)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="system-ui, sans-serif" font-size="11">'
    ]
    for fraction in (0, 0.5, 1):
        v = top * fraction
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="#666">{v:g}</text>'
        )
    every = max(1, round(len(days) / 8))
    for i, day in enumerate(days):
        if i % every == 0 or i == len(days) - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - 8}" text-anchor="middle" fill="#666">'
                f"{day.day} {day:%b}</text>"
            )
    for (name, values), colour in zip(series, COLOURS, strict=False):
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(
            f'<g class="series"><title>{escape(name)}</title>'
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
        for i, v in enumerate(values):
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(name)}, {days[i]:%a %d %b}: {v:g}</title></circle>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped


__all__ = ["COLOURS", "line_chart"]
