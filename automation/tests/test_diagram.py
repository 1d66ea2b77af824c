import re

import pytest

from automation.diagram import Edge, Node, diagram_layout, diagram_svg, plan_diagram_svg
from automation.models import Enrollment
from automation.tests.factories import EnrollmentFactory, ask, plan_make, send
from contacts.tests.factories import ContactFactory


def test_layout_columns_are_layers_from_the_start_and_unreached_go_below():
    nodes = [Node("a", "A"), Node("s", "Start", is_start=True), Node("b", "B"), Node("o", "Orphan")]
    edges = [
        Edge("s", "a", "X"),
        Edge("a", "b", "Y"),
        Edge("b", "s", "BACK"),
        Edge("s", "b", "t", kind="timeout"),
    ]
    layout = diagram_layout(nodes, edges)
    assert layout.columns == {"s": 0, "a": 1, "b": 2, "o": 0}
    assert layout.boxes["s"][0] < layout.boxes["a"][0] < layout.boxes["b"][0]
    # The part no arrow from the start reaches is drawn below it, not on top of it.
    assert layout.boxes["o"][1] > max(layout.boxes[n][1] for n in "sab")


def _crossings(layout, edges) -> int:
    """Arrows between adjacent columns that cross (straight lines, box centres)."""
    spans = [
        (layout.columns[e.source], layout.boxes[e.source][1], layout.boxes[e.target][1])
        for e in edges
        if layout.columns[e.target] == layout.columns[e.source] + 1
    ]
    return sum(
        1
        for i, (col, a, b) in enumerate(spans)
        for other, c, d in spans[i + 1 :]
        if col == other and (a - c) * (b - d) < 0
    )


def test_steps_of_a_column_are_ordered_so_arrows_do_not_cross():
    # Kept in the order they were reached (A's answers, then B's), "x" would sit between
    # A's two answers and B's arrow to it would cross A's arrow to "z".
    nodes = [Node("s", "s", is_start=True), *(Node(n, n) for n in ("a", "b", "x", "y", "z"))]
    edges = [
        Edge("s", "a", "A"),
        Edge("s", "b", "B"),
        Edge("a", "x", "1"),
        Edge("a", "z", "2"),
        Edge("b", "y", "3"),
        Edge("b", "x", "4"),
    ]
    assert _crossings(diagram_layout(nodes, edges), edges) == 0


def test_svg_marks_start_end_timeout_and_escapes_text():
    nodes = [Node("hi", "<Hi>", is_start=True, active=3), Node("done", "Done", is_final=True)]
    edges = [
        Edge("hi", "done", "GO"),
        Edge("hi", "done", "silent PT24H", kind="timeout"),
        Edge("done", "done", "any"),
    ]
    svg = str(diagram_svg(nodes, edges, highlight="done"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "&lt;Hi&gt;" in svg and "<Hi>" not in svg
    assert 'class="state start" data-step-id="hi" data-active="3"' in svg
    assert 'class="state final current" data-step-id="done"' in svg
    assert re.search(r'class="edge timeout"[^>]*stroke-dasharray', svg)
    assert not re.search(r'class="edge reply"[^>]*stroke-dasharray', svg)
    assert ">silent PT24H<" in svg and ">GO<" in svg
    assert ">3 active<" in svg and ">0 active<" in svg


def test_empty_plan_says_so():
    assert "no steps yet" in diagram_svg([], [])


@pytest.mark.django_db
def test_plan_diagram_counts_active_enrollments_per_step_in_three_queries(django_assert_num_queries):
    plan = plan_make(
        goals=[{"slug": "bought", "name": "Bought it", "points": 1}],
        steps=[
            ask("invited", "Reply BUY", [("buy", "bought")], name="Invited",
                timeout={"after": "PT24H", "next": "bought"}),
            {"id": "bought", "type": "split_random", "branches": [
                {"name": "A", "weight": 1, "next": "thanks"}, {"name": "B", "weight": 1, "next": None}]},
            send("thanks", "Thanks", goal="bought"),
        ],
    )  # fmt: skip
    for _ in range(3):
        EnrollmentFactory(plan=plan, step_id="invited")
    EnrollmentFactory(plan=plan, step_id="thanks")
    finished = EnrollmentFactory(plan=plan, step_id="thanks")
    Enrollment.objects.filter(pk=finished.pk).update(status="completed")
    EnrollmentFactory(plan=plan, step_id="invited", contact=ContactFactory(is_test=True))
    EnrollmentFactory()  # another plan

    with django_assert_num_queries(3):  # the revision and its goals (then cached), the counts
        svg = str(plan_diagram_svg(plan=plan))

    assert 'data-step-id="invited" data-active="3"' in svg  # the test contact is not counted
    assert 'data-step-id="thanks" data-active="1"' in svg  # the completed one is not active
    assert ">BUY<" in svg and ">no reply for 24 hours<" in svg and "Ask: Reply BUY" in svg
    assert ">A (1)<" in svg and "★ Bought it" in svg


@pytest.mark.django_db
def test_plan_change_page_shows_the_diagram_and_cockpit_links(admin_client):
    plan = plan_make()
    html = admin_client.get(f"/admin/automation/plan/{plan.pk}/change/").content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="plan-diagram"' in html
    assert f"/admin/automation/plan/{plan.pk}/report/" in html
    assert f"/admin/automation/plan/{plan.pk}/try/" in html
    changelist = admin_client.get("/admin/automation/plan/").content.decode()
    assert f"/admin/automation/plan/{plan.pk}/report/" in changelist
