"""A laid-out plan drawn as SVG: boxes for steps, solid arrows for replies and branches
labelled with what the reply must be, dashed ones for timers labelled with the wait.

Drawing is in two parts: `diagram_drawing` lays the plan out and draws everything that
depends only on the plan (done once per revision, then cached); `drawing_svg` adds what
changes from one request to the next: how many enrollments are at each step, and the
step highlighted (linear in the steps)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from html import escape  # Django's, minus its lazy-string wrapper: thousands of labels

from django.utils.safestring import SafeString, mark_safe

from automation.cockpit.diagram.layout import (
    BOX_H,
    BOX_W,
    LABEL_CHARS,
    MARGIN,
    ROW_GAP,
    TOP,
    Edge,
    Layout,
    Node,
    diagram_layout,
    edges_grouped,
    truncate,
)

CHAR_W = 6.6  # average width of a 12px sans-serif character, for label backgrounds
# Past this many arrows (after grouping) a diagram draws its steps only: nobody reads
# 17,000 arrows (a 500-step plan at the import limit: a 7.5 MB drawing that took most of a
# second a page, bench/plan_page.py), and each step's exits are listed beside it anyway.
MAX_DRAWN_ARROWS = 6000
TITLE_CHARS = 1000  # an arrow's tooltip


@dataclass(frozen=True)
class Box:
    """A step's box as drawn once: `inner` is its markup after the frame."""

    id: str
    id_html: str
    name_html: str
    x: float
    y: float
    is_start: bool
    is_final: bool
    inner: str


@dataclass(frozen=True)
class Drawing:
    """A plan's diagram without the counts and the highlight: plain strings, so that the
    cache can keep it."""

    head: str
    boxes: tuple[Box, ...]
    tail: str


def diagram_drawing(nodes: list[Node], edges: list[Edge]) -> Drawing:
    """Lay `nodes` and `edges` out and draw them (all text escaped). Arrows between the
    same two steps of one kind are one arrow (`edges_grouped`)."""
    edges = edges_grouped(edges)
    layout = diagram_layout(nodes, edges)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plan-diagram" role="img" '
        f'aria-label="Plan diagram" width="{layout.width:.0f}" height="{layout.height:.0f}" '
        f'viewBox="0 0 {layout.width:.0f} {layout.height:.0f}" font-family="system-ui, sans-serif" '
        f'font-size="12">'
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#445"/></marker>'
        '<marker id="arrow-timeout" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#a15c00"/></marker>'
        "</defs>"
    )
    if not nodes:
        head += f'<text x="{MARGIN}" y="{TOP / 2}" fill="#666">This plan has no steps yet.</text>'
    arrows = ""
    if len(edges) > MAX_DRAWN_ARROWS:
        head += (
            f'<text x="{MARGIN}" y="{TOP / 2}" fill="#666">{len(edges):,} arrows are too many to draw: '
            "the steps are shown, and each step's exits are listed with it.</text>"
        )
    else:
        arrows = _arrows(edges, layout)
    boxes = tuple(_box(node, *layout.boxes[node.id]) for node in nodes)
    return Drawing(head=head, boxes=boxes, tail=arrows + "</svg>")


def drawing_svg(drawing: Drawing, *, counts: dict[str, int], highlight: str | None = None) -> SafeString:
    """The SVG document of `drawing` with `counts` (active enrollments per step) and the
    step `highlight` lit. Boxes first, arrows and labels on top so labels stay readable."""
    parts = [drawing.head]
    for box in drawing.boxes:
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
        x, y = box.x, box.y
        parts.append(
            f'<g class="{classes}" data-step-id="{box.id_html}" data-active="{active}">'
            f"<title>{box.name_html}: {active} active</title>"
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{width}"/>{box.inner}'
            f'<rect x="{x + BOX_W - pill_w - 8}" y="{y + BOX_H - 21}" width="{pill_w:.0f}" height="16" '
            f'rx="8" fill="{pill_fill}"/>'
            f'<text class="active-count" x="{x + BOX_W - pill_w - 2}" y="{y + BOX_H - 9}" fill="#fff" '
            f'font-size="11">{pill}</text></g>'
        )
    parts.append(drawing.tail)
    return mark_safe("".join(parts))  # every piece of text is escaped where it is drawn


def diagram_svg(nodes: list[Node], edges: list[Edge], *, highlight: str | None = None) -> SafeString:
    """The SVG document for `nodes` (with their counts) and `edges`, drawn afresh."""
    return drawing_svg(
        diagram_drawing(nodes, edges), counts={n.id: n.active for n in nodes}, highlight=highlight
    )


def _box(node: Node, x: float, y: float) -> Box:
    stroke = "#2e7d32" if node.is_start else ("#333" if node.is_final else "#8894a8")
    parts = []
    if node.is_final:
        parts.append(
            f'<rect x="{x + 4}" y="{y + 4}" width="{BOX_W - 8}" height="{BOX_H - 8}" rx="6" '
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
    parts.append(
        f'<text x="{x + 12}" y="{y + 26}" font-weight="bold" font-size="13" fill="#1b1f29">'
        f"{escape(truncate(node.name, 24))}</text>"
    )
    for i, line in enumerate(node.detail.splitlines()[:2]):
        parts.append(
            f'<text x="{x + 12}" y="{y + 43 + 16 * i}" fill="#555">{escape(truncate(line, 24))}</text>'
        )
    return Box(
        id=node.id,
        id_html=escape(node.id),
        name_html=escape(node.name),
        x=x,
        y=y,
        is_start=node.is_start,
        is_final=node.is_final,
        inner="".join(parts),
    )


def _arrows(edges: list[Edge], layout: Layout) -> str:
    known = layout.boxes.keys()
    edges = [e for e in edges if e.source in known and e.target in known]
    ports = _forward_ports(edges, layout)
    seen: dict[tuple[str, str], int] = defaultdict(int)
    paths, labels = [], []
    for i, edge in enumerate(edges):
        key = (edge.source, edge.target)
        nth = seen[key]
        seen[key] += 1
        path, (lx, ly) = _edge_geometry(edge, layout, nth, ports.get(i, (0, 0)))
        timeout = edge.kind == "timeout"
        color = "#a15c00" if timeout else "#445"
        dash = ' stroke-dasharray="6 4"' if timeout else ""
        italic = ' font-style="italic"' if timeout else ""
        marker = "arrow-timeout" if timeout else "arrow"
        paths.append(
            f'<path class="edge {escape(edge.kind)}" data-source="{escape(edge.source)}" '
            f'data-target="{escape(edge.target)}" '
            f'd="{path}" fill="none" stroke="{color}" stroke-width="1.5"{dash} marker-end="url(#{marker})">'
            f"<title>{escape(truncate(edge.title or edge.label, TITLE_CHARS))}</title></path>"
        )
        text = truncate(edge.label, LABEL_CHARS)
        w = len(text) * CHAR_W + 10
        labels.append(
            f'<g class="edge-label {escape(edge.kind)}"><rect x="{lx - w / 2:.1f}" y="{ly - 10:.1f}" '
            f'width="{w:.1f}" height="18" rx="4" fill="#fff" stroke="{color}" stroke-width="0.6"/>'
            f'<text x="{lx:.1f}" y="{ly + 3:.1f}" text-anchor="middle" fill="{color}"'
            f"{italic}>{escape(text)}</text></g>"
        )
    return "".join(paths) + "".join(labels)


def _bezier_mid(p0, p1, p2, p3) -> tuple[float, float]:
    return (
        (p0[0] + 3 * p1[0] + 3 * p2[0] + p3[0]) / 8,
        (p0[1] + 3 * p1[1] + 3 * p2[1] + p3[1]) / 8,
    )


def _edge_geometry(
    edge: Edge, layout: Layout, nth: int, ports: tuple[float, float] = (0, 0)
) -> tuple[str, tuple[float, float]]:
    """The SVG path of an arrow and where its label goes. `nth` spreads parallel arrows;
    `ports` shifts where a forward arrow leaves its source and enters its target."""
    sx, sy = layout.boxes[edge.source]
    tx, ty = layout.boxes[edge.target]
    scol, tcol = layout.columns[edge.source], layout.columns[edge.target]
    spread = nth * 14
    adjacent_rows = abs(ty - sy) <= BOX_H + ROW_GAP + 1
    if edge.source == edge.target:
        # A loop hanging under the box's bottom right corner.
        p0 = (sx + BOX_W - 44 - spread, sy + BOX_H)
        p3 = (sx + BOX_W - 14, sy + BOX_H)
        p1 = (p0[0] - 10, sy + BOX_H + 40 + spread)
        p2 = (p3[0] + 14, sy + BOX_H + 40 + spread)
        label = (sx + BOX_W - 30, sy + BOX_H + 40 + spread)
    elif tcol > scol:
        p0 = (sx + BOX_W, sy + BOX_H / 2 + ports[0] + spread)
        p3 = (tx, ty + BOX_H / 2 + ports[1] + spread)
        dx = (p3[0] - p0[0]) / 2
        p1, p2 = (p0[0] + dx, p0[1]), (p3[0] - dx, p3[1])
        label = _bezier_mid(p0, p1, p2, p3)
    elif tcol == scol and adjacent_rows:
        # Straight down or up between two boxes of one column (down on the right, up on the left).
        down = ty > sy
        x = sx + BOX_W * (0.68 if down else 0.32) + spread
        p0 = (x, sy + BOX_H if down else sy)
        p3 = (x, ty if down else ty + BOX_H)
        p1 = (x, (p0[1] * 2 + p3[1]) / 3)
        p2 = (x, (p0[1] + p3[1] * 2) / 3)
        label = (x, (p0[1] + p3[1]) / 2)
    elif tcol == scol:
        p0 = (sx + BOX_W, sy + BOX_H / 2 + 10 + spread)
        p3 = (tx + BOX_W, ty + BOX_H / 2 + 10 + spread)
        bulge = 56 + 16 * nth
        p1, p2 = (p0[0] + bulge, p0[1]), (p3[0] + bulge, p3[1])
        label = _bezier_mid(p0, p1, p2, p3)
    else:
        p0 = (sx + BOX_W / 2 + spread, sy)
        p3 = (tx + BOX_W / 2 + spread, ty)
        lift = TOP - 8 - 14 * nth
        top = min(sy, ty) - lift
        p1, p2 = (p0[0], top), (p3[0], top)
        label = _bezier_mid(p0, p1, p2, p3)
    path = (
        f"M{p0[0]:.1f},{p0[1]:.1f} C{p1[0]:.1f},{p1[1]:.1f} {p2[0]:.1f},{p2[1]:.1f} {p3[0]:.1f},{p3[1]:.1f}"
    )
    return path, label


def _forward_ports(edges: list[Edge], layout: Layout) -> dict[int, tuple[float, float]]:
    """Fan out forward arrows that share a source side or a target side (by index in `edges`)."""
    outs: dict[str, list[int]] = defaultdict(list)
    ins: dict[str, list[int]] = defaultdict(list)
    for i, edge in enumerate(edges):
        if layout.columns[edge.target] > layout.columns[edge.source]:
            outs[edge.source].append(i)
            ins[edge.target].append(i)
    ports: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for side, groups, other in ((0, outs, "target"), (1, ins, "source")):
        for members in groups.values():
            members.sort(key=lambda i: layout.boxes[getattr(edges[i], other)][1])
            n = len(members)
            for rank, i in enumerate(members):
                ports[i][side] = (rank - (n - 1) / 2) * min(16, (BOX_H - 20) / max(n - 1, 1))
    return {i: (p[0], p[1]) for i, p in ports.items()}
