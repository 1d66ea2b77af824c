"""Results over time for the plan report: per day (per week when the range is long) the
cohort's enrollments, goal conversions, revenue and links clicked, and a chart of them
drawn as SVG on the server (no script: the admin's CSP stays strict).

The days come from the report's passes (`plan_report` groups its outcome and goal counts
by day, and counts the links clicked per day): enrollments by the day they began,
conversions and revenue by the day the goal was reached, clicks by the day a link of the
cohort's texts was first opened — each day in the site's timezone.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WEEKS_AFTER_DAYS = 60  # a range longer than this is shown by week
MAX_SPAN_DAYS = 3660  # a range is never drawn longer than about ten years


@dataclass
class TrendRow:
    """One day (or week, starting that Monday) of the cohort."""

    day: date
    enrolled: int = 0
    conversions: int = 0
    revenue: Decimal = Decimal(0)
    clicked: int = 0


@dataclass
class Trend:
    by: str  # "day" or "week"
    rows: list[TrendRow]

    @property
    def has_data(self) -> bool:
        return any(r.enrolled or r.conversions or r.clicked or r.revenue for r in self.rows)


def trend_make(
    *,
    enrolled: dict[date, int],
    conversions: dict[date, int],
    revenue: dict[date, Decimal],
    clicked: dict[date, int],
    date_from: date | None,
    date_to: date | None,
) -> Trend:
    """Every day from the range's start (else the first day with figures) to its end (else
    the last day with figures; a conversion or a click after the range's end still shows,
    on its own day), by week past `WEEKS_AFTER_DAYS`."""
    days = set(enrolled) | set(conversions) | set(revenue) | set(clicked)
    if not days:
        return Trend(by="day", rows=[])
    first, last = min(days), max(days)
    if date_from and date_from < first and (last - date_from).days <= MAX_SPAN_DAYS:
        first = date_from
    if date_to and date_to > last and (date_to - first).days <= MAX_SPAN_DAYS:
        last = date_to
    by = "week" if (last - first).days + 1 > WEEKS_AFTER_DAYS else "day"
    if by == "week":
        first = first - timedelta(days=first.weekday())
    step = timedelta(days=7 if by == "week" else 1)
    rows: dict[date, TrendRow] = {}
    day = first
    while day <= last:
        rows[day] = TrendRow(day=day)
        day += step

    def bucket(day: date) -> TrendRow:
        return rows[day - timedelta(days=day.weekday())] if by == "week" else rows[day]

    for day, n in enrolled.items():
        bucket(day).enrolled += n
    for day, n in conversions.items():
        bucket(day).conversions += n
    for day, value in revenue.items():
        bucket(day).revenue += value or 0
    for day, n in clicked.items():
        bucket(day).clicked += n
    return Trend(by=by, rows=list(rows.values()))


# The chart: three counts as lines on one scale, revenue as bars on its own.
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 720, 236, 48, 64, 30, 28  # the legend above the plot
SERIES = (
    ("enrolled", "Enrolled", "#1565c0"),
    ("conversions", "Conversions", "#2e7d32"),
    ("clicked", "Links clicked", "#a15c00"),
)


def trend_svg(trend: Trend) -> SafeString:
    """The chart of `trend` as an SVG document (all text escaped)."""
    rows = trend.rows
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top_count = max([max(r.enrolled, r.conversions, r.clicked) for r in rows] + [1])
    top_revenue = max([r.revenue for r in rows] + [Decimal(0)])
    slot = plot_w / max(len(rows), 1)

    def x(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    def y(n: float, top: float) -> float:
        return TOP + plot_h - plot_h * float(n) / float(top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="report-trend" role="img" '
        f'aria-label="Results by {trend.by}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'font-family="system-ui, sans-serif" font-size="11">',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="#999"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" fill="#555">{top_count:,}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end" fill="#555">0</text>',
    ]
    if top_revenue:
        bar = max(slot * 0.6, 1)
        for i, row in enumerate(rows):
            if row.revenue:
                top = y(row.revenue, top_revenue)
                parts.append(
                    f'<rect class="revenue" x="{x(i) - bar / 2:.1f}" y="{top:.1f}" width="{bar:.1f}" '
                    f'height="{TOP + plot_h - top:.1f}" fill="#c8e6c9"><title>{row.day:%Y-%m-%d}: '
                    f"revenue {row.revenue:,.2f}</title></rect>"
                )
        parts.append(
            f'<text x="{LEFT + plot_w + 6}" y="{TOP + 4}" fill="#2e7d32">{top_revenue:,.0f} revenue</text>'
        )
    for key, label, colour in SERIES:
        points = " ".join(f"{x(i):.1f},{y(getattr(r, key), top_count):.1f}" for i, r in enumerate(rows))
        parts.append(
            f'<polyline class="series-{key}" points="{points}" fill="none" stroke="{colour}" '
            f'stroke-width="2"><title>{escape(label)}</title></polyline>'
        )
        if len(rows) == 1:  # a line of one point draws nothing: a dot
            n = getattr(rows[0], key)
            parts.append(
                f'<circle class="series-{key}" cx="{x(0):.1f}" cy="{y(n, top_count):.1f}" r="4" '
                f'fill="{colour}"><title>{escape(label)}: {n}</title></circle>'
            )
    for i in sorted({0, len(rows) - 1} | set(range(0, len(rows), max(len(rows) // 6, 1)))):
        if 0 <= i < len(rows):
            parts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - 8}" text-anchor="middle" fill="#555">'
                f"{rows[i].day:%b} {rows[i].day.day}</text>"
            )
    for n, (_key, label, colour) in enumerate(SERIES):
        parts.append(
            f'<text x="{LEFT + 8 + n * 120}" y="{TOP - 14}" fill="{colour}" class="legend">'
            f"■ {escape(label)}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # built here from numbers, dates and escaped labels
