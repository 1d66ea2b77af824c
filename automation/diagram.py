"""A plan drawn as SVG, server-side: a layered (Sugiyama) layout by grandalf, which orders
the boxes of each column to reduce crossing arrows; the drawing is ours.

Steps are boxes in columns by layer from the start step; replies and branches are solid
arrows labelled with what the reply must be, timers dashed arrows labelled with the wait.
Each box shows how many active enrollments are at the step now (one aggregate query).

`diagram_layout` and `diagram_svg` are pure; `plan_diagram_svg` reads the plan (three
queries whatever its size) and draws it.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from grandalf.graphs import Edge as GraphEdge
from grandalf.graphs import Graph, Vertex
from grandalf.layouts import DummyVertex, SugiyamaLayout

BOX_W = 180
BOX_H = 88
COL_GAP = 120
ROW_GAP = 56
MARGIN = 24
TOP = 64  # room above the first row for arrows that go back to an earlier column
CHAR_W = 6.6  # average width of a 12px sans-serif character, for label backgrounds


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    is_start: bool = False
    is_final: bool = False
    active: int = 0
    detail: str = ""


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    kind: str = "reply"  # "reply" | "timeout"


@dataclass
class Layout:
    boxes: dict[str, tuple[float, float]] = field(default_factory=dict)  # node id → (x, y) top left
    columns: dict[str, int] = field(default_factory=dict)  # node id → column
    width: float = 0
    height: float = 0


class _Box:
    """The size grandalf lays a step out with (its own coordinates are only used to order)."""

    w, h = BOX_H, BOX_W  # left to right: grandalf's layers are our columns


def diagram_layout(nodes: list[Node], edges: list[Edge]) -> Layout:
    """Columns are the layers of a Sugiyama layout (grandalf) from the start step, and the
    order within a column is grandalf's, which reduces crossing arrows in branching plans.
    Parts of the plan no arrow from the start reaches are laid out below it."""
    if not nodes:
        return Layout(width=2 * MARGIN, height=TOP + MARGIN)
    known = {node.id for node in nodes}
    start = next((n.id for n in nodes if n.is_start), nodes[0].id)
    vertices = {node.id: Vertex(node.id) for node in nodes}
    for vertex in vertices.values():
        vertex.view = _Box()
    links = sorted(
        {(e.source, e.target) for e in edges if e.source != e.target and {e.source, e.target} <= known}
    )
    graph = Graph(list(vertices.values()), [GraphEdge(vertices[a], vertices[b]) for a, b in links])
    column: dict[str, int] = {}
    slot: dict[str, int] = {}
    placed = 0
    for part in sorted(graph.C, key=lambda c: vertices[start] not in c.sV):
        sugiyama = SugiyamaLayout(part)
        sugiyama.init_all(roots=[vertices[start]] if vertices[start] in part.sV else None)
        sugiyama.draw(N=3)
        depth = 1
        for i, layer in enumerate(sugiyama.layers):
            steps = sorted((v for v in layer if not isinstance(v, DummyVertex)), key=lambda v: v.view.xy[0])
            for r, vertex in enumerate(steps):
                column[vertex.data], slot[vertex.data] = i, placed + r
            depth = max(depth, len(steps))
        placed += depth
    order = sorted(known, key=lambda n: (column[n], slot[n]))
    layout = Layout(columns=column)
    for node_id in order:
        col, row = column[node_id], slot[node_id]
        layout.boxes[node_id] = (MARGIN + col * (BOX_W + COL_GAP), TOP + row * (BOX_H + ROW_GAP))
    ncols = max(column.values()) + 1
    nrows = max(slot.values()) + 1
    layout.width = 2 * MARGIN + ncols * BOX_W + (ncols - 1) * COL_GAP + COL_GAP // 2
    layout.height = TOP + nrows * BOX_H + (nrows - 1) * ROW_GAP + MARGIN + 36
    return layout


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
    outs: dict[int, list[int]] = defaultdict(list)
    ins: dict[int, list[int]] = defaultdict(list)
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


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def diagram_svg(nodes: list[Node], edges: list[Edge], *, highlight: str | None = None) -> SafeString:
    """The SVG document for `nodes` and `edges` (all text escaped)."""
    layout = diagram_layout(nodes, edges)
    known = set(layout.boxes)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plan-diagram" role="img" '
        f'aria-label="Plan diagram" width="{layout.width:.0f}" height="{layout.height:.0f}" '
        f'viewBox="0 0 {layout.width:.0f} {layout.height:.0f}" font-family="system-ui, sans-serif" '
        f'font-size="12">',
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#445"/></marker>'
        '<marker id="arrow-timeout" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#a15c00"/></marker>'
        "</defs>",
    ]
    if not nodes:
        parts.append(f'<text x="{MARGIN}" y="{TOP / 2}" fill="#666">This plan has no steps yet.</text>')

    # Boxes first, arrows and labels on top so labels stay readable.
    for node in nodes:
        x, y = layout.boxes[node.id]
        classes = ["state"]
        if node.is_start:
            classes.append("start")
        if node.is_final:
            classes.append("final")
        if node.id == highlight:
            classes.append("current")
        fill = "#fff6bf" if node.id == highlight else ("#eef7ee" if node.is_start else "#f4f6fa")
        stroke = "#2e7d32" if node.is_start else ("#333" if node.is_final else "#8894a8")
        width = 2.5 if node.is_start or node.is_final else 1.2
        parts.append(
            f'<g class="{" ".join(classes)}" data-step-id="{escape(node.id)}" data-active="{node.active}">'
            f"<title>{escape(node.name)}: {node.active} active</title>"
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{width}"/>'
        )
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
            f"{escape(_truncate(node.name, 24))}</text>"
        )
        for i, line in enumerate(node.detail.splitlines()[:2]):
            parts.append(
                f'<text x="{x + 12}" y="{y + 43 + 16 * i}" fill="#555">{escape(_truncate(line, 24))}</text>'
            )
        pill = f"{node.active} active"
        pill_w = len(pill) * 6.5 + 12
        pill_fill = "#1565c0" if node.active else "#b8c0cc"
        parts.append(
            f'<rect x="{x + BOX_W - pill_w - 8}" y="{y + BOX_H - 21}" width="{pill_w:.0f}" height="16" '
            f'rx="8" fill="{pill_fill}"/>'
            f'<text class="active-count" x="{x + BOX_W - pill_w - 2}" y="{y + BOX_H - 9}" fill="#fff" '
            f'font-size="11">{pill}</text></g>'
        )

    edges = [e for e in edges if e.source in known and e.target in known]
    ports = _forward_ports(edges, layout)
    seen: dict[tuple[int, int], int] = defaultdict(int)
    labels = []
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
        parts.append(
            f'<path class="edge {escape(edge.kind)}" data-source="{escape(edge.source)}" '
            f'data-target="{escape(edge.target)}" '
            f'd="{path}" fill="none" stroke="{color}" stroke-width="1.5"{dash} marker-end="url(#{marker})">'
            f"<title>{escape(edge.label)}</title></path>"
        )
        text = _truncate(edge.label, 22)
        w = len(text) * CHAR_W + 10
        labels.append(
            f'<g class="edge-label {escape(edge.kind)}"><rect x="{lx - w / 2:.1f}" y="{ly - 10:.1f}" '
            f'width="{w:.1f}" height="18" rx="4" fill="#fff" stroke="{color}" stroke-width="0.6"/>'
            f'<text x="{lx:.1f}" y="{ly + 3:.1f}" text-anchor="middle" fill="{color}"'
            f"{italic}>{escape(text)}</text></g>"
        )
    parts.extend(labels)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every piece of text above is escaped


def flow_nodes_edges(flow, counts: dict[str, int] | None = None) -> tuple[list[Node], list[Edge]]:
    """The diagram of a Flow: a box per step (its kind's label, its goal), an arrow per
    exit; timeouts and delays dashed. Pure."""
    counts = counts or {}
    nodes, edges = [], []
    for step_id in flow.order:
        step = flow.steps[step_id]
        kind = step.kind
        exits = kind.exits(step.data)
        bits = [kind.label(step)]
        if step.goal:
            bits.append(f"★ {flow.goals[step.goal].name if step.goal in flow.goals else step.goal}")
        nodes.append(
            Node(
                id=step_id,
                name=step.name,
                is_start=step_id == flow.start,
                is_final=all(e.target is None for e in exits),
                active=counts.get(step_id, 0),
                detail="\n".join(bits),
            )
        )
        for way in exits:
            if way.target is None:
                continue
            timed = way.field.startswith("timeout") or step.type == "delay"
            edges.append(
                Edge(source=step_id, target=way.target, label=way.label, kind="timeout" if timed else "reply")
            )
    return nodes, edges


def plan_diagram_svg(
    *, plan, revision_id: int | None = None, highlight_step: str | None = None
) -> SafeString:
    """Draw revision `revision_id` of `plan` (default: the published one, else the draft)
    with live counts of active enrollments per step (one aggregate query). Test contacts
    (the simulator's) are not counted."""
    from automation.models import Enrollment, EnrollmentStatus
    from automation.revisions import revision_flow

    if revision_id is None:
        revision_id = (
            plan.published_id or plan.revisions.order_by("-number").values_list("pk", flat=True).first()
        )
    if revision_id is None:
        return diagram_svg([], [])
    counts = dict(
        Enrollment.objects.filter(plan=plan, status=EnrollmentStatus.ACTIVE, contact__is_test=False)
        .values_list("step_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    nodes, edges = flow_nodes_edges(revision_flow(revision_id), counts)
    return diagram_svg(nodes, edges, highlight=highlight_step)
