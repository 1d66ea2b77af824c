"""Where each arrow of a laid-out plan runs (`automation.cockpit.diagram.svg` draws them),
and where its label goes.

An arrow down to the next row is a curve from the bottom of its step to the top of the
next, fanned out with the others that leave or enter the same box (`_ports`). An arrow
that skips rows, when a box of a row between is in its way, and every arrow back up to an
earlier row run in a lane beside the boxes of the rows they pass — left of them when the
step is in the left half of the drawing, else right —, from the side of one step to the
side of the other, each in a lane of its own; their labels sit in a gap between two rows,
where no box is. A step's arrow to itself is a loop on its right side."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict

from automation.cockpit.diagram.layout import Edge, Layout

LANE_GAP = 16  # between the boxes and the first lane
LANE_STEP = 10  # between two lanes
LANES = 4  # lanes a side, then they are shared


class Router:
    """The arrows of one drawing: `route` each in turn (lanes are handed out in order)."""

    def __init__(self, edges: list[Edge], layout: Layout):
        self.layout = layout
        self.ports = _ports(edges, layout)
        rows: dict[int, list[tuple[float, float, float, float]]] = defaultdict(list)
        for node, (x, y) in layout.boxes.items():
            w, h = layout.sizes[node]
            rows[layout.rows[node]].append((x, x + w, y, y + h))
        self.spans = {row: sorted((a, b) for a, b, _, _ in boxes) for row, boxes in rows.items()}
        self.lefts = {row: [a for a, _ in spans] for row, spans in self.spans.items()}
        self.tops = {row: min(top for *_, top, _ in boxes) for row, boxes in rows.items()}
        self.bottoms = {row: max(bottom for *_, bottom in boxes) for row, boxes in rows.items()}
        self.lanes = {True: 0, False: 0}  # handed out, left and right

    def route(self, i: int, edge: Edge, nth: int) -> tuple[str, tuple[float, float]]:
        """The SVG path of arrow `i` and where its label goes; `nth` spreads arrows
        between the same two steps."""
        layout = self.layout
        srow, trow = layout.rows[edge.source], layout.rows[edge.target]
        ports = self.ports.get(i, (0.0, 0.0))
        if edge.source != edge.target and (trow < srow or (trow > srow + 1 and self._blocked(edge, ports))):
            return self._lane(edge, nth)
        return _curve(edge, layout, nth, ports)

    def _blocked(self, edge: Edge, ports) -> bool:
        """Whether a box of a row between the arrow's two is in the way of a curve."""
        (sx, _), (sw, _) = self.layout.boxes[edge.source], self.layout.sizes[edge.source]
        (tx, _), (tw, _) = self.layout.boxes[edge.target], self.layout.sizes[edge.target]
        x0, x1 = sx + sw / 2 + ports[0], tx + tw / 2 + ports[1]
        lo, hi = min(x0, x1) - 8, max(x0, x1) + 8
        for row in range(self.layout.rows[edge.source] + 1, self.layout.rows[edge.target]):
            spans = self.spans.get(row, ())
            k = bisect_left(self.lefts.get(row, ()), hi)  # spans starting left of `hi`
            if k and spans[k - 1][1] > lo:
                return True
        return False

    def _lane(self, edge: Edge, nth: int) -> tuple[str, tuple[float, float]]:
        layout = self.layout
        (sx, sy), (sw, sh) = layout.boxes[edge.source], layout.sizes[edge.source]
        (tx, ty), (tw, th) = layout.boxes[edge.target], layout.sizes[edge.target]
        srow, trow = layout.rows[edge.source], layout.rows[edge.target]
        passed = range(min(srow, trow), max(srow, trow) + 1)
        left = sx + sw / 2 <= layout.width / 2
        offset = LANE_GAP + LANE_STEP * (self.lanes[left] % LANES)
        self.lanes[left] += 1
        if left:
            lane = max(4.0, min(self.spans[row][0][0] for row in passed if row in self.spans) - offset)
            x0, x1, out = sx, tx, 1
        else:
            edge_x = max(self.spans[row][-1][1] for row in passed if row in self.spans)
            lane = min(layout.width - 4, edge_x + offset)
            x0, x1, out = sx + sw, tx + tw, -1
        y0 = sy + min(sh / 2, 30) + nth * 12
        y1 = ty + min(th / 2, 30) + nth * 12
        down = 1 if y1 > y0 else -1
        r = min(8.0, abs(y1 - y0) / 2)
        path = (
            f"M{x0:.1f},{y0:.1f} H{lane + out * r:.1f} Q{lane:.1f},{y0:.1f} {lane:.1f},{y0 + down * r:.1f} "
            f"V{y1 - down * r:.1f} Q{lane:.1f},{y1:.1f} {lane + out * r:.1f},{y1:.1f} H{x1:.1f}"
        )
        # The label in the gap under the row nearest the middle of the way (no box there).
        middle = (y0 + y1) / 2
        gaps = [
            ((self.bottoms[row] + self.tops[row + 1]) / 2)
            for row in range(min(srow, trow), max(srow, trow))
            if row in self.bottoms and row + 1 in self.tops
        ]
        label_y = min(gaps, key=lambda y: abs(y - middle)) if gaps else middle
        return path, (lane, label_y)


def _curve(edge: Edge, layout: Layout, nth: int, ports) -> tuple[str, tuple[float, float]]:
    """An arrow down (or across a row, or to its own step) as one curve."""
    sx, sy = layout.boxes[edge.source]
    sw, sh = layout.sizes[edge.source]
    tx, ty = layout.boxes[edge.target]
    tw, th = layout.sizes[edge.target]
    spread = nth * 14
    if edge.source == edge.target:
        x = sx + sw
        p0, p3 = (x, sy + 24 + spread), (x, sy + 54 + spread)
        p1, p2 = (x + 40 + spread, p0[1] - 12), (x + 40 + spread, p3[1] + 12)
        label = (x + 30 + spread, (p0[1] + p3[1]) / 2)
    elif layout.rows[edge.target] > layout.rows[edge.source]:
        # From the bottom of the source to the top of the target; into an end's small mark
        # the ports alone keep parallel arrows apart.
        p0 = (sx + sw / 2 + ports[0] + spread, sy + sh)
        p3 = (tx + tw / 2 + ports[1] + (0 if edge.target in layout.ends else spread), ty)
        dy = (p3[1] - p0[1]) / 2
        p1, p2 = (p0[0], p0[1] + dy), (p3[0], p3[1] - dy)
        label = _bezier_mid(p0, p1, p2, p3)
    else:
        # Side by side (the layering makes none; this draws any steps and arrows it is given).
        right = tx > sx
        p0 = (sx + sw if right else sx, sy + sh / 2 + spread)
        p3 = (tx if right else tx + tw, ty + th / 2 + spread)
        dx = (p3[0] - p0[0]) / 2
        p1, p2 = (p0[0] + dx, p0[1]), (p3[0] - dx, p3[1])
        label = _bezier_mid(p0, p1, p2, p3)
    path = (
        f"M{p0[0]:.1f},{p0[1]:.1f} C{p1[0]:.1f},{p1[1]:.1f} {p2[0]:.1f},{p2[1]:.1f} {p3[0]:.1f},{p3[1]:.1f}"
    )
    return path, label


def _bezier_mid(p0, p1, p2, p3) -> tuple[float, float]:
    return (
        (p0[0] + 3 * p1[0] + 3 * p2[0] + p3[0]) / 8,
        (p0[1] + 3 * p1[1] + 3 * p2[1] + p3[1]) / 8,
    )


def _ports(edges: list[Edge], layout: Layout) -> dict[int, tuple[float, float]]:
    """Fan out arrows down that share a source or a target (by index in `edges`), in the
    order of the boxes at their other end; into an end's small mark, closely."""
    outs: dict[str, list[int]] = defaultdict(list)
    ins: dict[str, list[int]] = defaultdict(list)
    for i, edge in enumerate(edges):
        if layout.rows[edge.target] > layout.rows[edge.source]:
            outs[edge.source].append(i)
            ins[edge.target].append(i)
    ports: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for side, groups, other in ((0, outs, "target"), (1, ins, "source")):
        for node, members in groups.items():
            members.sort(key=lambda i: layout.boxes[getattr(edges[i], other)][0])
            n = len(members)
            room = layout.sizes[node][0] - (24 if node in layout.ends else 20)
            for rank, i in enumerate(members):
                ports[i][side] = (rank - (n - 1) / 2) * min(16, room / max(n - 1, 1))
    return {i: (p[0], p[1]) for i, p in ports.items()}
