import re
from datetime import timedelta

import pytest

from automation.diagram import (
    Edge,
    Node,
    diagram_layout,
    diagram_svg,
    duration_label,
    plan_diagram_svg,
    transition_label,
)
from automation.models import Enrollment
from automation.tests.factories import EnrollmentFactory, PlanFactory, PlanStateFactory, TransitionFactory
from contacts.tests.factories import ContactFactory
from messaging.tests.factories import SmsMessageFactory


def test_duration_label():
    assert duration_label(timedelta(hours=24)) == "24 h"
    assert duration_label(timedelta(days=2, hours=3)) == "2 d 3 h"
    assert duration_label(timedelta(minutes=30)) == "30 min"
    assert duration_label(timedelta(seconds=45)) == "45 s"


def test_transition_label():
    assert transition_label(match="keyword", pattern="quote") == "QUOTE"
    assert transition_label(match="first_word", pattern="buy") == "BUY …"
    assert transition_label(match="regex", pattern=r"\d+") == r"/\d+/"
    assert transition_label(match="any", pattern="") == "any reply"


def test_layout_columns_follow_distance_from_start_and_unreached_go_last():
    nodes = [Node(1, "A"), Node(2, "Start", is_start=True), Node(3, "B"), Node(4, "Orphan")]
    edges = [Edge(2, 1, "X"), Edge(1, 3, "Y"), Edge(3, 2, "BACK"), Edge(2, 3, "t", kind="timeout")]
    layout = diagram_layout(nodes, edges)
    assert layout.columns == {2: 0, 1: 1, 3: 1, 4: 2}
    # Two states in one column are stacked, not drawn on top of each other.
    assert layout.boxes[1][0] == layout.boxes[3][0]
    assert layout.boxes[1][1] != layout.boxes[3][1]
    assert layout.boxes[2][0] < layout.boxes[1][0] < layout.boxes[4][0]


def test_svg_marks_start_final_timeout_and_escapes_text():
    nodes = [Node(1, "<Hi>", is_start=True, active=3), Node(2, "Done", is_final=True)]
    edges = [Edge(1, 2, "GO"), Edge(1, 2, "after 24 h", kind="timeout"), Edge(2, 2, "any reply")]
    svg = str(diagram_svg(nodes, edges, highlight=2))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "&lt;Hi&gt;" in svg and "<Hi>" not in svg
    assert 'class="state start" data-state-id="1" data-active="3"' in svg
    assert 'class="state final current" data-state-id="2"' in svg
    assert re.search(r'class="edge timeout"[^>]*stroke-dasharray', svg)
    assert not re.search(r'class="edge reply"[^>]*stroke-dasharray', svg)
    assert ">after 24 h<" in svg and ">GO<" in svg
    assert ">3 active<" in svg and ">0 active<" in svg


def test_empty_plan_says_so():
    assert "no states yet" in diagram_svg([], [])


@pytest.mark.django_db
def test_plan_diagram_counts_active_enrollments_per_state_in_three_queries(django_assert_num_queries):
    plan = PlanFactory()
    start = PlanStateFactory(
        plan=plan, name="Invited", is_start=True, message=SmsMessageFactory(name="Invite")
    )
    end = PlanStateFactory(plan=plan, name="Bought", is_final=True)
    start.timeout = timedelta(hours=24)
    start.timeout_to = end
    start.save()
    TransitionFactory(plan=plan, from_state=start, to_state=end, pattern="buy")
    for _ in range(3):
        EnrollmentFactory(plan=plan, current_state=start)
    EnrollmentFactory(plan=plan, current_state=end)
    finished = EnrollmentFactory(plan=plan, current_state=end)
    Enrollment.objects.filter(pk=finished.pk).update(status="completed")
    EnrollmentFactory(plan=plan, current_state=start, contact=ContactFactory(is_test=True))
    other = PlanStateFactory(is_start=True)
    EnrollmentFactory(plan=other.plan, current_state=other)

    with django_assert_num_queries(3):
        svg = str(plan_diagram_svg(plan=plan))

    assert f'data-state-id="{start.pk}" data-active="3"' in svg  # the test contact is not counted
    assert f'data-state-id="{end.pk}" data-active="1"' in svg  # the completed one is not active
    assert ">BUY<" in svg and ">after 24 h<" in svg and "✉ Invite" in svg


@pytest.mark.django_db
def test_plan_change_page_shows_the_diagram_and_cockpit_links(admin_client):
    plan = PlanFactory()
    PlanStateFactory(plan=plan, name="Invited", is_start=True)
    html = admin_client.get(f"/admin/automation/plan/{plan.pk}/change/").content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="plan-diagram"' in html
    assert f"/admin/automation/plan/{plan.pk}/report/" in html
    assert f"/admin/automation/plan/{plan.pk}/try/" in html
    changelist = admin_client.get("/admin/automation/plan/").content.decode()
    assert f"/admin/automation/plan/{plan.pk}/report/" in changelist
