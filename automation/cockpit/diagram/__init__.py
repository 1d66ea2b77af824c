"""A plan drawn as SVG, server-side, on its change page, its report and Try it.

Steps are boxes in columns by layer from the start step (`automation.cockpit.diagram.layout`);
replies, events and branches are solid arrows labelled with what takes them, timers dashed
arrows labelled with the wait (`automation.cockpit.diagram.svg`); a way out that ends the
journey goes to an "End" mark of its step. Each box shows what the step does, the goal it
records, and how many active enrollments are at the step now (one aggregate query); a way
out that records a goal is starred, and the plan's goals are listed under the drawing
(`automation.cockpit.steps_view` words all of it).

The layout and everything drawn from the plan alone are computed once per revision and
kept in Django's cache: a plan's published revision under its id (it never changes), any
other under a hash of what it draws (a draft is edited in place, so its id would not do).
A page then costs the counts query and a pass over the steps (bench/plan_page.py)."""

import hashlib

from django.core.cache import cache
from django.db.models import Count
from django.utils.safestring import SafeString

from automation.cockpit.diagram.layout import Edge, Layout, Node, diagram_layout, edges_grouped
from automation.cockpit.diagram.svg import Drawing, diagram_drawing, diagram_svg, drawing_svg
from automation.cockpit.steps_view import exit_goals, goal_words, goals_legend, step_goal, step_title

__all__ = [
    "Drawing",
    "Edge",
    "Layout",
    "Node",
    "diagram_drawing",
    "diagram_layout",
    "diagram_svg",
    "drawing_svg",
    "edges_grouped",
    "flow_drawing",
    "flow_nodes_edges",
    "plan_diagram_svg",
]

# Part of every cache key: change it when a change to the code changes what is drawn.
DRAWING_VERSION = 3
# Seconds a drawing is kept (it never goes stale: this only frees memory). A draft's is
# kept ten minutes: each edit makes a new drawing, and the old ones are not asked for again.
DRAWING_TIMEOUT = 24 * 3600
DRAFT_DRAWING_TIMEOUT = 10 * 60


def flow_nodes_edges(flow, counts: dict[str, int] | None = None) -> tuple[list[Node], list[Edge]]:
    """The diagram of a Flow: a box per step (its title, what it does, its goal), an arrow
    per way out — a way that ends the journey to an "End" mark of its own step (`end:<id>`,
    which no step id can be) —; an exit a timer takes (a timeout, a delay) dashed; a way
    that records a goal starred, the goal in its title. Pure."""
    counts = counts or {}
    nodes, edges, ends = [], [], []
    for step_id in flow.order:
        step = flow.steps[step_id]
        kind = step.kind
        exits = kind.exits(step.data)
        title, does = step_title(step), kind.label(step)
        bits = [does] if does != title else []  # a step without a name is titled by what it does
        goal = step_goal(flow, step)
        if goal is not None:
            bits.append(goal_words(goal))
        elif step.goal:
            bits.append(f"★ {step.goal}")
        nodes.append(
            Node(
                id=step_id,
                name=title,
                is_start=step_id == flow.start,
                is_final=all(e.target is None for e in exits),
                active=counts.get(step_id, 0),
                detail="\n".join(bits),
            )
        )
        for way in exits:
            goals = exit_goals(flow, way)
            target = way.target
            if target is None:
                target = f"end:{step_id}"
                if not ends or ends[-1].id != target:
                    ends.append(Node(id=target, name=step_id, is_end=True))
            title = f"{way.label}: " + "; ".join(goal_words(g) for g in goals) if goals else ""
            edges.append(
                Edge(
                    source=step_id,
                    target=target,
                    label=way.label,
                    kind="timeout" if way.timed else "reply",
                    title=title,
                    goal=bool(goals),
                )
            )
    return [*nodes, *ends], edges


def flow_drawing(flow, *, published_as: str | None = None) -> Drawing:
    """The drawing of a Flow without counts, from the cache when it was drawn before: a
    published revision under `published_as` (it never changes), any other under a hash of
    what it draws (a draft is edited in place)."""
    drawn, timeout = None, DRAWING_TIMEOUT
    if published_as is None:
        drawn, timeout = (*flow_nodes_edges(flow), tuple(goals_legend(flow))), DRAFT_DRAWING_TIMEOUT
        published_as = hashlib.sha256(repr(drawn).encode()).hexdigest()
    key = f"plan-diagram:{DRAWING_VERSION}:{published_as}"
    drawing = cache.get(key)
    if drawing is None:
        drawing = diagram_drawing(*(drawn or (*flow_nodes_edges(flow), tuple(goals_legend(flow)))))
        cache.set(key, drawing, timeout)
    return drawing


def plan_diagram_svg(
    *, plan, revision_id: int | None = None, highlight_step: str | None = None
) -> SafeString:
    """Draw revision `revision_id` of `plan` (default: the published one, else the draft)
    with live counts of active enrollments per step (one aggregate query). Test contacts
    (the simulator's) are not counted."""
    from automation.engine.revisions import revision_flow
    from automation.models import Enrollment, EnrollmentStatus

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
    flow = revision_flow(revision_id)
    # The plan's published revision is known without a query; another one (a draft, an
    # older revision a test contact is on) is told by what it draws.
    published = f"revision:{revision_id}:{flow.revision}" if revision_id == plan.published_id else None
    drawing = flow_drawing(flow, published_as=published)
    return drawing_svg(drawing, counts=counts, highlight=highlight_step)
