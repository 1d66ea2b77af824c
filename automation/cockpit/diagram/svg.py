"""A laid-out plan drawn as SVG: boxes for steps, solid arrows for replies, events and
branches labelled with what takes them, dashed ones for timers labelled with the wait;
every way out that ends the journey goes to a small "End" mark; a way that records a goal
is starred, and the plan's goals are listed under the drawing (`legend`).

A box's text wraps at words (a URL too long for a line breaks after a `/`, `?` or `&`)
over as many lines as it needs, up to `TEXT_LINES`; its tooltip holds all of it. The
drawing has a viewBox: the page fits it to its width (docs/cockpit.md, "Plan diagram").

Drawing is in two parts: `diagram_drawing` lays the plan out and draws everything that
depends only on the plan (done once per revision, then cached); `drawing_svg` adds what
changes from one request to the next: how many enrollments are at each step, and the
step highlighted (linear in the steps)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from html import escape  # Django's, minus its lazy-string wrapper: thousands of labels

from django.utils.safestring import SafeString, mark_safe

from automation.cockpit.diagram.layout import (
    BOX_H,
    END_W,
    LABEL_CHARS,
    MARGIN,
    Edge,
    Layout,
    Node,
    diagram_layout,
    edges_grouped,
    truncate,
)
from automation.cockpit.diagram.routes import Router

CHAR_W = 6.6  # average width of a 12px sans-serif character, for label backgrounds
NAME_CHARS = 19  # a line of a box's bold name
LINE_CHARS = 22  # a line of a box's text (a 180 px box holds about 23 average characters)
NAME_LINES = 2
TEXT_LINES = 10  # of what a step does (a one-segment text fits); its goal has two more
LINE_H = 16
LEGEND_H = 18
# Past this many arrows (after grouping) a diagram draws its steps only: nobody reads
# 17,000 arrows (a 500-step plan at the import limit: a 7.5 MB drawing that took most of a
# second a page, bench/plan_page.py), and each step's exits are listed beside it anyway.
MAX_DRAWN_ARROWS = 6000
TITLE_CHARS = 1000  # an arrow's tooltip
GOAL_COLOR = "#8a6d00"
_BREAK_AFTER = re.compile(r"(?<=[/?&=])")


@dataclass(frozen=True)
class Box:
    """A step's box (or an end's mark) as drawn once: `inner` is its markup after the frame."""

    id: str
    id_html: str
    title_html: str
    x: float
    y: float
    w: float
    h: float
    is_start: bool
    is_final: bool
    inner: str
    is_end: bool = False


@dataclass(frozen=True)
class Drawing:
    """A plan's diagram without the counts and the highlight: plain strings, so that the
    cache can keep it."""

    head: str
    boxes: tuple[Box, ...]
    tail: str


def wrap(text: str, width: int, most: int) -> list[str]:
    """`text` in lines of at most `width` characters, broken at spaces (a longer word after
    a `/`, `?`, `&` or `=`, else where it must), at most `most` lines: the last ends with
    "…" when there is more."""
    lines: list[str] = []
    for word in text.split():
        glue = " "
        while word:
            cut = len(word)
            if cut > width:
                cut = max((m.start() for m in _BREAK_AFTER.finditer(word, 1, width)), default=0)
                cut = cut if cut > width // 3 else width
            piece, word = word[:cut], word[cut:]
            if lines and len(lines[-1]) + len(glue) + len(piece) <= width:
                lines[-1] += glue + piece
            else:
                lines.append(piece)
            glue = ""  # the rest of a word broken in two goes on without a space
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] = lines[-1][: width - 1].rstrip() + "…"
    return lines


def _box_text(node: Node) -> tuple[list[str], list[tuple[str, bool]]]:
    """The name's lines, and the lines below it (each with whether it is a goal's)."""
    if node.is_end:
        return [], []
    name = wrap(node.name, NAME_CHARS, NAME_LINES)
    lines: list[tuple[str, bool]] = []
    for bit in node.detail.splitlines():
        goal = bit.startswith("★")
        lines += [(line, goal) for line in wrap(bit, LINE_CHARS, 2 if goal else TEXT_LINES)]
    return name, lines


def _height(name: list[str], lines: list) -> float:
    return max(BOX_H, 36 + LINE_H * (len(name) + len(lines)))


def diagram_drawing(nodes: list[Node], edges: list[Edge], legend: tuple[str, ...] = ()) -> Drawing:
    """Lay `nodes` and `edges` out and draw them (all text escaped), with the `legend`
    lines (the plan's goals) under it. Arrows between the same two steps of one kind are
    one arrow (`edges_grouped`)."""
    edges = edges_grouped(edges)
    texts = {node.id: _box_text(node) for node in nodes}
    nodes = [replace(node, height=_height(*texts[node.id])) for node in nodes]
    layout = diagram_layout(nodes, edges)
    notes: list[tuple[str, str]] = []  # (class, text) of the lines under the drawing
    if not nodes:
        notes.append(("note", "This plan has no steps yet."))
    arrows = ""
    if len(edges) > MAX_DRAWN_ARROWS:
        notes.append(
            ("note", f"{len(edges):,} arrows are too many to draw: the steps are shown, "
             "and each step's exits are listed with it.")
        )  # fmt: skip
    else:
        arrows = _arrows(edges, layout)
    chars = max(40, int((layout.width - 2 * MARGIN) / CHAR_W))
    notes += [("goal-legend", line) for said in legend for line in wrap(said, chars, 4)]
    width = max(layout.width, 320 if notes else 0)
    height = layout.height + (LEGEND_H * len(notes) + 8 if notes else 0)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plan-diagram" role="img" '
        f'aria-label="Plan diagram" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="system-ui, sans-serif" '
        f'font-size="12">'
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#445"/></marker>'
        '<marker id="arrow-timeout" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#a15c00"/></marker>'
        "</defs>"
    )
    boxes = tuple(_box(node, layout, *texts[node.id]) for node in nodes)
    tail = arrows + "".join(
        f'<text class="{css}" x="{MARGIN}" y="{layout.height + LEGEND_H * (i + 1) - 1:.0f}" '
        f'fill="{GOAL_COLOR if css == "goal-legend" else "#666"}">{escape(line)}</text>'
        for i, (css, line) in enumerate(notes)
    )
    return Drawing(head=head, boxes=boxes, tail=tail + "</svg>")


def drawing_svg(drawing: Drawing, *, counts: dict[str, int], highlight: str | None = None) -> SafeString:
    """The SVG document of `drawing` with `counts` (active enrollments per step) and the
    step `highlight` lit. Boxes first, arrows and labels on top so labels stay readable."""
    parts = [drawing.head]
    for box in drawing.boxes:
        if box.is_end:
            parts.append(box.inner)
            continue
        active = counts.get(box.id, 0)
        current = box.id == highlight
        classes = " ".join(
            c
            for c, on in (
                ("state", True),
                ("start", box.is_start),
                ("final", box.is_final),
                ("current", current),
            )
            if on
        )
        fill = "#fff6bf" if current else ("#eef7ee" if box.is_start else "#f4f6fa")
        stroke = "#2e7d32" if box.is_start else ("#333" if box.is_final else "#8894a8")
        width = 2.5 if box.is_start or box.is_final else 1.2
        pill = f"{active} active"
        pill_w = len(pill) * 6.5 + 12
        pill_fill = "#1565c0" if active else "#b8c0cc"
        x, y, w, h = box.x, box.y, box.w, box.h
        parts.append(
            f'<g class="{classes}" data-step-id="{box.id_html}" data-active="{active}">'
            f"<title>{box.title_html} ({active} active)</title>"
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{width}"/>{box.inner}'
            f'<rect x="{x + w - pill_w - 8}" y="{y + h - 21}" width="{pill_w:.0f}" height="16" '
            f'rx="8" fill="{pill_fill}"/>'
            f'<text class="active-count" x="{x + w - pill_w - 2}" y="{y + h - 9}" fill="#fff" '
            f'font-size="11">{pill}</text></g>'
        )
    parts.append(drawing.tail)
    return mark_safe("".join(parts))  # every piece of text is escaped where it is drawn


def diagram_svg(
    nodes: list[Node], edges: list[Edge], *, highlight: str | None = None, legend: tuple[str, ...] = ()
) -> SafeString:
    """The SVG document for `nodes` (with their counts) and `edges`, drawn afresh."""
    return drawing_svg(
        diagram_drawing(nodes, edges, legend), counts={n.id: n.active for n in nodes}, highlight=highlight
    )


def _box(node: Node, layout: Layout, name: list[str], lines: list[tuple[str, bool]]) -> Box:
    x, y = layout.boxes[node.id]
    w, h = layout.sizes[node.id]
    if node.is_end:
        mid = y + h / 2
        inner = (
            f'<g class="end" data-end-of="{escape(node.name)}"><title>The journey ends here</title>'
            f'<rect x="{x}" y="{mid - 16}" width="{END_W}" height="32" rx="16" fill="#fff" '
            f'stroke="#333" stroke-width="2"/>'
            f'<text x="{x + END_W / 2}" y="{mid + 4}" text-anchor="middle" font-weight="bold" '
            f'fill="#1b1f29">End</text></g>'
        )
        return Box(node.id, escape(node.id), "End", x, y, w, h, False, True, inner, is_end=True)
    stroke = "#2e7d32" if node.is_start else ("#333" if node.is_final else "#8894a8")
    parts = []
    if node.is_final:
        parts.append(
            f'<rect x="{x + 4}" y="{y + 4}" width="{w - 8}" height="{h - 8}" rx="6" '
            f'fill="none" stroke="{stroke}" stroke-width="1"/>'
        )
    tags = [t for t, on in (("START", node.is_start), ("END", node.is_final)) if on]
    if tags:
        tag = " · ".join(tags)
        tag_w = len(tag) * 7 + 12
        tag_fill = "#2e7d32" if node.is_start else "#333"
        parts.append(
            f'<rect x="{x + 10}" y="{y - 9}" width="{tag_w}" height="16" rx="8" fill="{tag_fill}"/>'
            f'<text x="{x + 16}" y="{y + 3}" fill="#fff" font-size="10" font-weight="bold">{tag}</text>'
        )
    baseline = y + 22
    for line in name:
        parts.append(
            f'<text x="{x + 12}" y="{baseline}" font-weight="bold" font-size="13" fill="#1b1f29">'
            f"{escape(line)}</text>"
        )
        baseline += LINE_H
    for line, goal in lines:
        css = ' class="goal" font-weight="bold"' if goal else ""
        parts.append(
            f'<text{css} x="{x + 12}" y="{baseline}" fill="{GOAL_COLOR if goal else "#555"}">'
            f"{escape(line)}</text>"
        )
        baseline += LINE_H
    title = node.name + "".join(f"\n{bit}" for bit in node.detail.splitlines())
    return Box(
        id=node.id,
        id_html=escape(node.id),
        title_html=escape(title),
        x=x,
        y=y,
        w=w,
        h=h,
        is_start=node.is_start,
        is_final=node.is_final,
        inner="".join(parts),
    )


def _arrows(edges: list[Edge], layout: Layout) -> str:
    known = layout.boxes.keys()
    edges = [e for e in edges if e.source in known and e.target in known]
    router = Router(edges, layout)
    seen: dict[tuple[str, str], int] = defaultdict(int)
    parallel = Counter((e.source, e.target) for e in edges)
    paths, labels = [], []
    for i, edge in enumerate(edges):
        key = (edge.source, edge.target)
        nth = seen[key]
        seen[key] += 1
        path, (lx, ly) = router.route(i, edge, nth)
        ly += (nth - (parallel[key] - 1) / 2) * 20  # parallel arrows' labels one above the other
        timeout = edge.kind == "timeout"
        color = "#a15c00" if timeout else "#445"
        dash = ' stroke-dasharray="6 4"' if timeout else ""
        italic = ' font-style="italic"' if timeout else ""
        marker = "arrow-timeout" if timeout else "arrow"
        ends = " to-end" if edge.target in layout.ends else ""
        paths.append(
            f'<path class="edge {escape(edge.kind)}{ends}" data-source="{escape(edge.source)}" '
            f'data-target="{escape(edge.target)}" '
            f'd="{path}" fill="none" stroke="{color}" stroke-width="1.5"{dash} marker-end="url(#{marker})">'
            f"<title>{escape(truncate(edge.title or edge.label, TITLE_CHARS))}</title></path>"
        )
        star = " ★" if edge.goal else ""  # the goal it records is in its title
        text = truncate(edge.label, LABEL_CHARS - len(star)) + star
        w = len(text) * CHAR_W + 10
        lx = min(max(lx, w / 2 + 2), layout.width - w / 2 - 2)  # inside the drawing
        goal = " goal" if edge.goal else ""
        frame = GOAL_COLOR if edge.goal else color
        labels.append(
            f'<g class="edge-label {escape(edge.kind)}{goal}"><rect x="{lx - w / 2:.1f}" y="{ly - 10:.1f}" '
            f'width="{w:.1f}" height="18" rx="4" fill="{"#fff8d6" if edge.goal else "#fff"}" '
            f'stroke="{frame}" stroke-width="{1.2 if edge.goal else 0.6}"/>'
            f'<text x="{lx:.1f}" y="{ly + 3:.1f}" text-anchor="middle" fill="{color}"'
            f"{italic}>{escape(text)}</text></g>"
        )
    return "".join(paths) + "".join(labels)
