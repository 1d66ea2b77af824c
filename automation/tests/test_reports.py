from datetime import date, datetime, timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from automation.cockpit.reports import plan_report
from automation.models import Enrollment, EnrollmentStep
from automation.tests.factories import EnrollmentFactory, ask, plan_make, send
from contacts.tests.factories import ContactFactory
from messaging.tests.factories import OutboundMessageFactory
from tracking.models import GoalConversion
from tracking.tests.factories import GoalFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan():
    plan = plan_make(
        steps=[
            ask("invited", "Quote?", [("QUOTE", "quoted")], name="Invited"),
            ask("quoted", "Buy?", [("BUY", "purchased")], name="Quoted"),
            send("purchased", "Thanks", name="Purchased"),
        ]
    )
    plan.start, plan.middle, plan.done = "invited", "quoted", "purchased"
    plan.goal = GoalFactory(name="Purchase", points=50)
    return plan


def _enroll(plan, *, path, status="active", contact=None, enrolled_at=None, goal=False, outbound=()):
    enrolled_at = enrolled_at or timezone.now()
    enrollment = EnrollmentFactory(
        plan=plan, step_id=path[-1], contact=contact or ContactFactory(), enrolled_at=enrolled_at
    )
    Enrollment.objects.filter(pk=enrollment.pk).update(status=status)
    for i, step_id in enumerate(path):
        EnrollmentStep.objects.create(
            enrollment=enrollment,
            step_id=step_id,
            via="enroll" if i == 0 else "reply",
            occurred_at=enrolled_at,
        )
    if goal:
        GoalConversion.objects.create(
            contact=enrollment.contact,
            goal=plan.goal,
            enrollment=enrollment,
            points=50,
            occurred_at=enrolled_at,
        )
    for delivery in outbound:
        OutboundMessageFactory(
            contact=enrollment.contact,
            enrollment=enrollment,
            step_id=path[-1],  # the engine names the step of every message an enrollment causes
            status=delivery,
        )
    return enrollment


def _seed(plan, scale=1):
    for _ in range(scale):
        _enroll(plan, path=[plan.start], outbound=["delivered"])
        _enroll(plan, path=[plan.start, plan.middle], status="expired", outbound=["delivered", "failed"])
        _enroll(
            plan,
            path=[plan.start, plan.middle, plan.done],
            status="completed",
            goal=True,
            outbound=["delivered", "delivered", "undelivered"],
        )
        _enroll(plan, path=[plan.start], status="opted_out")
        # Went back to the start state: still one enrollment reaching it.
        _enroll(plan, path=[plan.start, plan.middle, plan.start], status="exited")
        _enroll(plan, path=[plan.start], status="failed", outbound=["failed"])


def test_counts_funnel_goals_delivery(plan):
    _seed(plan)
    # A simulator contact and another plan's enrollments are not counted.
    _enroll(plan, path=[plan.start, plan.middle, plan.done], contact=ContactFactory(is_test=True), goal=True)
    EnrollmentFactory()  # another plan

    report = plan_report(plan=plan)

    assert report.enrolled == 6
    assert report.outcomes == {
        "active": 1,
        "completed": 1,
        "expired": 1,
        "opted_out": 1,
        "exited": 1,
        "failed": 1,
    }
    assert [(r.name, r.reached) for r in report.funnel] == [("Invited", 6), ("Quoted", 3), ("Purchased", 1)]
    assert report.funnel[1].percent == 50.0
    assert [(g.name, g.conversions, g.points) for g in report.goals] == [("Purchase", 1, 50)]
    assert report.engagement_value == 50
    assert report.messages == 7
    assert {r.status: r.count for r in report.delivery} == {"delivered": 4, "failed": 2, "undelivered": 1}


def test_date_range_filters_by_enrolled_at_inclusive(plan):
    day = date(2026, 3, 10)
    at = timezone.make_aware(datetime(2026, 3, 10, 23, 30))
    _enroll(plan, path=[plan.start], enrolled_at=at - timedelta(days=1))
    _enroll(plan, path=[plan.start, plan.middle], enrolled_at=at, outbound=["sent"])
    _enroll(plan, path=[plan.start], enrolled_at=at + timedelta(hours=1))

    report = plan_report(plan=plan, date_from=day, date_to=day)

    assert report.enrolled == 1
    assert [r.reached for r in report.funnel] == [1, 1, 0]
    assert report.messages == 1
    assert plan_report(plan=plan, date_from=day).enrolled == 2
    assert plan_report(plan=plan, date_to=day).enrolled == 2


def test_empty_plan_reports_zeros(plan):
    report = plan_report(plan=plan)
    assert report.enrolled == 0
    assert all(r.reached == 0 and r.percent == 0 for r in report.funnel)
    assert report.goals == [] and report.delivery == []


def test_query_count_does_not_grow_with_data(plan, django_assert_num_queries):
    _seed(plan, scale=1)
    plan_report(plan=plan)  # the revision's steps are read once, then cached
    # The roll-up's moment (none kept: all live), outcomes, reached, moves, ends, goals,
    # delivery, links, opt-outs by last text, answer counts, latest texts (no A/B split, no
    # tracked link).
    with django_assert_num_queries(11):
        small = plan_report(plan=plan, date_from=date(2000, 1, 1))
    _seed(plan, scale=5)
    with django_assert_num_queries(11):
        large = plan_report(plan=plan, date_from=date(2000, 1, 1))
    assert (small.enrolled, large.enrolled) == (6, 36)


def test_report_page_with_date_filter(admin_client, plan):
    _seed(plan)
    url = f"/admin/automation/plan/{plan.pk}/report/"
    response = admin_client.get(url)
    assert response.status_code == 200
    assert response.context["report"].enrolled == 6
    html = response.content.decode()
    assert '<span class="n" data-key="enrolled">6</span>' in html
    assert 'id="engagement-value">50<' in html
    future = admin_client.get(url, {"date_from": "2999-01-01"})
    assert future.context["report"].enrolled == 0
    # Bad input: a clear error, the unfiltered report, no 500.
    bad = admin_client.get(url, {"date_from": "2026-02-10", "date_to": "2026-01-01"})
    assert bad.status_code == 200
    assert "The start date is after the end date." in bad.content.decode()
    assert bad.context["report"].enrolled == 6
    assert admin_client.get(url, {"date_from": "not-a-date"}).status_code == 200
    assert admin_client.get("/admin/automation/plan/999999/report/").status_code == 404


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland", "America/Los_Angeles"])
def test_the_calendar_s_first_and_last_days_bound_nothing(admin_client, plan, settings, zone):
    """The date picker offers 0001-01-01 and 9999-12-31, whose start and end no datetime
    holds (in a zone east or west of UTC): they bound nothing; never a server error."""
    settings.TIME_ZONE = zone
    _seed(plan)
    url = f"/admin/automation/plan/{plan.pk}/report/"
    for dates in (
        {"date_to": "9999-12-31"},
        {"date_from": "0001-01-01"},
        {"date_from": "0001-01-01", "date_to": "9999-12-31"},
        {"date_from": "9999-12-31", "date_to": "9999-12-31"},
    ):
        response = admin_client.get(url, dates)
        assert response.status_code == 200, dates
        expected = 0 if dates.get("date_from") == "9999-12-31" else 6
        assert response.context["report"].enrolled == expected, dates


def test_report_page_needs_view_permission(client, django_user_model, plan):
    client.force_login(django_user_model.objects.create_user("nobody", is_staff=True))
    assert client.get(f"/admin/automation/plan/{plan.pk}/report/").status_code == 403


def test_p_values_of_the_two_proportion_test():
    from automation.cockpit.reports import two_proportion_p

    assert two_proportion_p(50, 100, 50, 100) == pytest.approx(1.0)
    assert two_proportion_p(60, 100, 40, 100) == pytest.approx(0.0047, abs=1e-4)  # z = 2.83
    assert two_proportion_p(11, 20, 9, 20) == pytest.approx(0.527, abs=1e-3)
    assert two_proportion_p(0, 0, 5, 10) is None


def test_the_report_follows_a_survey_walked_through_the_webhook(
    text_in, sms_outbox, django_assert_num_queries
):
    """Steps, where contacts went, the A/B split per branch and the answers, from real replies."""
    from pathlib import Path

    from django.core.management import call_command

    from automation.models import Plan

    call_command("plan_import", str(Path(__file__).resolve().parents[2] / "docs/plans/spring-survey.json"))
    plan = Plan.objects.get(slug="spring-survey")
    scores = {}
    for i in range(20):
        phone = f"+1212555{1000 + i}"
        text_in(phone, "SURVEY")
        scores[phone] = i % 5 + 1
        text_in(phone, str(scores[phone]))
        if scores[phone] <= 3:
            text_in(phone, f"It was late ({i})")
        text_in(phone, f"ann{i}@example.com" if i % 2 else "no")
    ContactFactory(is_test=True)  # nothing of a test contact would count

    plan_report(plan=plan)
    with django_assert_num_queries(14):  # its review link is tracked: clicks per text and per branch too
        report = plan_report(plan=plan)

    rows = {row.step_id: row for row in report.funnel}
    assert report.enrolled == 20 and report.outcomes["completed"] == 20
    assert rows["ab"].reached == 20 and rows["thanks"].reached == 8 and rows["sorry"].reached == 12
    branches = dict(Enrollment.objects.values_list("branches__ab").annotate(n=Count("id")).order_by())
    assert dict(rows["ab"].went) == {f"→ Asked ({b})": n for b, n in branches.items()}
    assert dict(rows["sorry"].went) == {"→ Asked for email": 12}
    assert dict(rows["bye"].went) == {"completed here": 20}

    (split,) = report.splits
    assert split.name == "First question A/B"
    assert split.goal_names == ["Promoter", "Email captured", "Opened a link"]
    by_branch = {b.name: b for b in split.branches}
    assert {name: b.enrolled for name, b in by_branch.items()} == branches
    promoters = {
        b: Enrollment.objects.filter(branches__ab=b, goal_conversions__goal__slug="promoter").count()
        for b in branches
    }
    assert {name: b.goals[0][1] for name, b in by_branch.items()} == promoters
    assert split.branches[0].goals[0][3] is None  # the first branch is what the others are tested against
    assert split.branches[1].goals[0][3] is not None

    answers = {a.step_id: a for a in report.answers}
    asked = [answers[s] for s in ("ask-a", "ask-b") if s in answers]
    totals: dict[str, int] = {}
    for answer in asked:
        assert [v for v, _ in answer.counts] == sorted((v for v, _ in answer.counts), key=float)
        for value, n in answer.counts:
            totals[value] = totals.get(value, 0) + n
    assert totals == {"1": 4, "2": 4, "3": 4, "4": 4, "5": 4}
    assert answers["sorry"].total == 12 and answers["sorry"].texts[0] == "It was late (17)"
    assert len(answers["sorry"].texts) == 5
    assert (answers["ask-email"].private, dict(answers["ask-email"].counts)) == (10, {"NO": 10})
