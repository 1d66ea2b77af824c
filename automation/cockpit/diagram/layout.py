"""Where each step's box goes: the plan reads from the top down, as a journey does. Rows
are layers from the start step (the longest way there, once the arrows that close a loop
are turned round), and the order within a row is the one that crosses fewer arrows; each
row is centred. Parts of the plan no arrow from the start reaches are laid out below it.
Top down, a plan is as wide as its widest layer (a split's branches side by side), not as
its longest journey: it fits a laptop's page and, much more than it would sideways, a
phone's.

Small plans are laid out by grandalf (a Sugiyama layout): it puts a placeholder in every
layer a long arrow passes and reorders layers with them, so its cost grows with the
arrows times the layers they span. Past `GRANDALF_BUDGET` of those, the layers are ours
(the same longest-path layering) and their order comes from a few barycentre sweeps over
the arrows themselves: linear in the arrows per sweep (bench/plan_page.py).

Arrows between the same two steps are laid out once whatever their number: an ask whose
fifty rules all lead to one step is one arrow (`edges_grouped` draws it so too).

Boxes are as tall as their text needs (`Node.height`), every box of a row as tall as the
row's tallest; an end of the journey is a small "End" mark at the top of its slot."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from grandalf.graphs import Edge as GraphEdge
from grandalf.graphs import Vertex, graph_core
from grandalf.layouts import DummyVertex, SugiyamaLayout

BOX_W = 180
BOX_H = 88  # the least height of a box
END_W = 64  # an end of the journey's mark
END_H = 32
COL_GAP = 48  # between two boxes of a row
ROW_GAP = 64  # between two rows: the arrows' labels go there
MARGIN = 24
SIDE = 56  # room left and right of the rows for arrows that go back up to an earlier row
TOP = 24  # room above the first row (for its START tag)
LABEL_CHARS = 21  # the longest arrow label drawn; its title holds all of it

# Steps plus the placeholders grandalf would put on long arrows plus arrows: past this,
# grandalf takes more than a few tenths of a second (bench/plan_page.py).
GRANDALF_BUDGET = 800
SWEEPS = 4  # barycentre sweeps (down, up, down, up) past the budget


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    is_start: bool = False
    is_final: bool = False
    active: int = 0
    detail: str = ""
    is_end: bool = False  # an end of the journey (a way out that goes to no step)
    height: float = BOX_H


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    kind: str = "reply"  # "reply" | "timeout"
    title: str = ""  # the whole of what the arrow stands for, when the label is a summary
    goal: bool = False  # taking it records a goal


@dataclass
class Layout:
    boxes: dict[str, tuple[float, float]] = field(default_factory=dict)  # node id → (x, y) top left
    sizes: dict[str, tuple[float, float]] = field(default_factory=dict)  # node id → (width, height)
    layers: dict[str, int] = field(default_factory=dict)  # node id → layer within its part of the plan
    rows: dict[str, int] = field(default_factory=dict)  # node id → row of the whole drawing
    slots: dict[str, int] = field(default_factory=dict)  # node id → place in its row, from the left
    ends: set[str] = field(default_factory=set)  # the ends of the journey among the nodes
    width: float = 0
    height: float = 0


def edges_grouped(edges: list[Edge]) -> list[Edge]:
    """One arrow per source, target and kind, in the order of their first member: its label
    names the first answers that fit and how many more ("W0, W1, W2 +47"), its title all."""
    groups: dict[tuple[str, str, str], list[Edge]] = {}
    for edge in edges:
        groups.setdefault((edge.source, edge.target, edge.kind), []).append(edge)
    return [
        Edge(
            source,
            target,
            _summary([e.label for e in members]),
            kind,
            title=", ".join(e.title or e.label for e in members) if len(members) > 1 else members[0].title,
            goal=any(e.goal for e in members),
        )
        for (source, target, kind), members in groups.items()
    ]


def _summary(labels: list[str]) -> str:
    if len(labels) == 1:
        return labels[0]
    shown: list[str] = []
    for label in labels:
        more = len(labels) - len(shown) - 1
        text = ", ".join([*shown, label]) + (f" +{more}" if more else "")
        if shown and len(text) > LABEL_CHARS:
            break
        shown.append(label)
    more = len(labels) - len(shown)
    if not more:
        return ", ".join(shown)
    suffix = f" +{more}"
    return truncate(", ".join(shown), LABEL_CHARS - len(suffix)) + suffix


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def diagram_layout(nodes: list[Node], edges: list[Edge]) -> Layout:
    """Columns and rows of every box (see the module's docstring)."""
    if not nodes:
        return Layout(width=2 * MARGIN, height=TOP + MARGIN)
    ids = [node.id for node in nodes]
    known = set(ids)
    start = next((n.id for n in nodes if n.is_start), ids[0])
    links = sorted(
        {
            (e.source, e.target)
            for e in edges
            if e.source != e.target and e.source in known and e.target in known
        }
    )
    parts = _components(ids, links, start)
    ranked = [_ranks(part, links, start) for part in parts]
    placeholders = sum(rank[t] - rank[s] - 1 for rank, dag, _ in ranked for s, t in dag)
    # grandalf fails on a part whose steps are not all reached from the start (or from
    # the steps no arrow enters): never so in a plan that import accepts (every step is
    # reached from the start), but this lays out any steps and arrows it is given.
    fits = all(reached for _, _, reached in ranked)
    if fits and len(ids) + placeholders + len(links) <= GRANDALF_BUDGET:
        layers = _grandalf_layers(parts, links, start)
    else:
        layers = [
            _barycentre_layers(part, rank, dag) for part, (rank, dag, _) in zip(parts, ranked, strict=True)
        ]
    return _placed(layers, {node.id: node for node in nodes})


def _components(ids: list[str], links: list[tuple[str, str]], start: str) -> list[list[str]]:
    """The parts of the plan no arrow joins, each in the plan's order; the start's first."""
    parent = {i: i for i in ids}

    def root(i: str) -> str:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for s, t in links:
        parent[root(s)] = root(t)
    parts: dict[str, list[str]] = {}
    for i in ids:
        parts.setdefault(root(i), []).append(i)
    return sorted(parts.values(), key=lambda part: root(start) != root(part[0]))


def _ranks(part: list[str], links: list[tuple[str, str]], start: str):
    """(layer of each step of `part`, the arrows as laid out, whether a walk from the
    part's first steps reaches all of it): arrows that close a loop (found by a depth-first
    walk from the start, else from the steps no arrow enters) turned round, then the
    longest path."""
    members = set(part)
    out: dict[str, list[str]] = defaultdict(list)
    has_in = set()
    for s, t in links:
        if s in members:
            out[s].append(t)
            has_in.add(t)
    roots = [start] if start in members else [i for i in part if i not in has_in]
    state: dict[str, int] = {}  # 1 on the walk's path, 2 done
    dag = []

    def walk(first: str) -> None:
        state[first] = 1
        stack = [(first, iter(out[first]))]
        while stack:
            node, todo = stack[-1]
            child = next(todo, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                dag.append((child, node))  # a loop back: laid out the other way
            else:
                dag.append((node, child))
                if child not in state:
                    state[child] = 1
                    stack.append((child, iter(out[child])))

    for first in roots:
        if first not in state:
            walk(first)
    reached = bool(roots) and len(state) == len(part)
    for first in part:
        if first not in state:
            walk(first)
    dag = sorted(set(dag))
    succ: dict[str, list[str]] = defaultdict(list)
    waiting = dict.fromkeys(part, 0)
    for s, t in dag:
        succ[s].append(t)
        waiting[t] += 1
    rank = dict.fromkeys(part, 0)
    ready = [i for i in part if not waiting[i]]
    while ready:
        node = ready.pop()
        for child in succ[node]:
            rank[child] = max(rank[child], rank[node] + 1)
            waiting[child] -= 1
            if not waiting[child]:
                ready.append(child)
    return rank, dag, reached


def _barycentre_layers(part: list[str], rank: dict[str, int], dag) -> list[list[str]]:
    """The steps of each layer, ordered by the mean place of their neighbours in earlier
    layers (sweeping down), then in later ones (sweeping up), `SWEEPS` times."""
    layers: list[list[str]] = [[] for _ in range(max(rank.values()) + 1)]
    for i in part:
        layers[rank[i]].append(i)
    before: dict[str, list[str]] = defaultdict(list)
    after: dict[str, list[str]] = defaultdict(list)
    for s, t in dag:
        before[t].append(s)
        after[s].append(t)
    place = {}

    def settle(layer: list[str]) -> None:
        for i, node in enumerate(layer):
            place[node] = i / max(len(layer) - 1, 1)

    for layer in layers:
        settle(layer)
    for sweep in range(SWEEPS):
        downwards = sweep % 2 == 0
        neighbours = before if downwards else after
        for layer in layers[1:] if downwards else layers[-2::-1]:
            keys = {
                node: sum(place[n] for n in neighbours[node]) / len(neighbours[node])
                if neighbours[node]
                else place[node]
                for node in layer
            }
            layer.sort(key=keys.__getitem__)
            settle(layer)
    return layers


class _Box:
    """The size grandalf lays a step out with (only its order within a layer is used)."""

    w, h = BOX_W, BOX_H


def _grandalf_layers(parts: list[list[str]], links, start: str) -> list[list[list[str]]]:
    """Per part of the plan, its layers in grandalf's order (three rounds of crossing
    reduction; its coordinates are not computed: they would only repeat that order). Each
    part is handed over with its arrows in order: grandalf's own split into parts keeps
    them in a set, whose order (and so the picture) changed from one process to the next."""
    vertices = {i: Vertex(i) for part in parts for i in part}
    for vertex in vertices.values():
        vertex.view = _Box()
    out = []
    for part in parts:
        members = set(part)
        edges = [GraphEdge(vertices[a], vertices[b]) for a, b in links if a in members]
        graph = graph_core([vertices[i] for i in part], edges)
        sugiyama = SugiyamaLayout(graph)
        sugiyama.init_all(roots=[vertices[start]] if start in members else None)
        for _ in range(3):
            for _ in sugiyama.ordering_step():
                pass
        out.append([[v.data for v in layer if not isinstance(v, DummyVertex)] for layer in sugiyama.layers])
    return out


def _placed(parts: list[list[list[str]]], nodes: dict[str, Node]) -> Layout:
    """Boxes at their row (layer) and slot, each row centred and as tall as its tallest box;
    each part of the plan below the one before. An end's mark sits at the top of its slot,
    in its middle."""
    layout = Layout()
    rows: list[list[str]] = []
    for layers in parts:
        for number, layer in enumerate(layers):
            for slot, node_id in enumerate(layer):
                layout.layers[node_id] = number
                layout.rows[node_id] = len(rows)
                layout.slots[node_id] = slot
            rows.append(layer)
    widest = max([1, *(len(row) for row in rows)])
    pitch = BOX_W + COL_GAP
    y = TOP
    for row in rows:
        height = max([END_H, *(max(BOX_H, nodes[i].height) for i in row if not nodes[i].is_end)])
        left = MARGIN + SIDE + (widest - len(row)) * pitch / 2
        for slot, node_id in enumerate(row):
            x = left + slot * pitch
            if nodes[node_id].is_end:
                layout.ends.add(node_id)
                layout.boxes[node_id] = (x + (BOX_W - END_W) / 2, y)
                layout.sizes[node_id] = (END_W, END_H)
            else:
                layout.boxes[node_id] = (x, y)
                layout.sizes[node_id] = (BOX_W, height)
        y += height + ROW_GAP
    layout.width = 2 * (MARGIN + SIDE) + widest * pitch - COL_GAP
    layout.height = y - ROW_GAP + MARGIN + 12
    return layout
