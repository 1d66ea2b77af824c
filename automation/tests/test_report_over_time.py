"""The plan report over time, per text, and as CSV (issue 21), through the admin pages as a
Marketer sees them: figures counted by hand on a small data set."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from automation.models import Enrollment, EnrollmentStep
from automation.tests.factories import EnrollmentFactory, ask, plan_make, send
from contacts.tests.factories import ContactFactory
from messaging.tests.factories import OutboundMessageFactory
from tracking.models import GoalConversion, TrackedLink
from tracking.tests.factories import GoalFactory

pytestmark = pytest.mark.django_db


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def _text(enrollment, step_id, status, *, link_clicked=None, sent=None):
    message = OutboundMessageFactory(
        contact=enrollment.contact, enrollment=enrollment, step_id=step_id, status=status
    )
    if sent is not None:
        TrackedLink.objects.create(
            code=f"c{message.pk}",
            url="https://shop.example/deal",
            interaction=message.interaction,
            contact=enrollment.contact,
            enrollment=enrollment,
            clicks=1 if link_clicked else 0,
            first_clicked_at=link_clicked,
            created_at=sent,
        )
    return message


def _enroll(plan, path, *, status, when, contact=None):
    enrollment = EnrollmentFactory(
        plan=plan, step_id=path[-1], contact=contact or ContactFactory(), enrolled_at=when
    )
    Enrollment.objects.filter(pk=enrollment.pk).update(status=status)
    previous = ""
    for i, step_id in enumerate(path):
        via = "enroll" if i == 0 else "reply"
        EnrollmentStep.objects.create(
            enrollment=enrollment, step_id=step_id, from_step_id=previous, via=via, occurred_at=when
        )
        previous = step_id
    return enrollment


@pytest.fixture
def shop(settings):
    settings.TIME_ZONE = "UTC"
    plan = plan_make(
        steps=[
            ask(
                "offer",
                "20% off today: https://shop.example/deal Reply YES",
                [("YES", "thanks")],
                name="Offer",
            ),
            send("thanks", "Thanks! Your code is SAVE20", name="Thanks"),
        ]
    )
    goal = GoalFactory(name="Purchase", points=10)
    with time_machine.travel(at(10), tick=False):
        # 1: enrolled 8 March, answered, bought on the 9th (20.00), clicked the offer's link on the 9th.
        one = _enroll(plan, ["offer", "thanks"], status="completed", when=at(8, 10))
        _text(one, "offer", "delivered", sent=at(8, 10), link_clicked=at(9, 9))
        _text(one, "thanks", "delivered")
        GoalConversion.objects.create(
            contact=one.contact,
            goal=goal,
            enrollment=one,
            points=10,
            value=Decimal("20.00"),
            occurred_at=at(9, 9),
        )
        # 2: enrolled 8 March, opted out after the offer (its link never opened).
        two = _enroll(plan, ["offer"], status="opted_out", when=at(8, 11))
        _text(two, "offer", "delivered", sent=at(8, 11))
        # 3: enrolled 9 March, the offer failed.
        three = _enroll(plan, ["offer"], status="active", when=at(9, 8))
        _text(three, "offer", "failed")
        # A simulator contact: never counted.
        test = _enroll(
            plan, ["offer"], status="opted_out", when=at(9, 8), contact=ContactFactory(is_test=True)
        )
        _text(test, "offer", "delivered", sent=at(9, 8), link_clicked=at(9, 9))
    return plan


def test_results_by_day_and_per_text_on_the_report_page(marketer_client, shop):
    url = f"/admin/automation/plan/{shop.pk}/report/"
    response = marketer_client.get(url)
    assert response.status_code == 200
    report = response.context["report"]
    assert report.trend.by == "day"
    assert [(r.day, r.enrolled, r.conversions, r.revenue, r.clicked) for r in report.trend.rows] == [
        (date(2026, 3, 8), 2, 0, 0, 0),
        (date(2026, 3, 9), 1, 1, Decimal("20.00"), 1),
    ]
    texts = {m.step_id: m for m in report.messages_by_step}
    offer, thanks = texts["offer"], texts["thanks"]
    assert (offer.sent, offer.delivered, offer.failed, offer.clicked, offer.replies, offer.opted_out) == (
        3, 2, 1, 1, 1, 1,
    )  # fmt: skip
    assert offer.clicked_rate == 50.0
    assert (thanks.sent, thanks.delivered, thanks.clicked, thanks.replies, thanks.opted_out) == (
        1,
        1,
        0,
        0,
        0,
    )
    html = response.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="report-trend"' in html
    assert 'id="report-messages"' in html and 'data-key="opted_out">1<' in html
    assert "style=" not in response.context["trend_chart"]  # the CSP allows no inline style

    # The range applies to the trend too: from the 9th, one enrollment and its figures.
    ninth = marketer_client.get(url, {"date_from": "2026-03-09"}).context["report"]
    assert [(r.day, r.enrolled, r.clicked) for r in ninth.trend.rows] == [(date(2026, 3, 9), 1, 0)]
    assert {m.step_id: m.failed for m in ninth.messages_by_step} == {"offer": 1, "thanks": 0}


def test_a_single_day_is_drawn_as_dots(marketer_client, shop):
    url = f"/admin/automation/plan/{shop.pk}/report/"
    one_day = marketer_client.get(url, {"date_from": "2026-03-09", "date_to": "2026-03-09"})
    assert len(one_day.context["report"].trend.rows) == 1
    chart = one_day.context["trend_chart"]
    assert '<circle class="series-enrolled"' in chart and "<title>Enrolled: 1</title>" in chart
    assert "<circle" not in marketer_client.get(url).context["trend_chart"]  # two days: lines


def test_a_long_range_is_shown_by_week(marketer_client, shop):
    report = marketer_client.get(
        f"/admin/automation/plan/{shop.pk}/report/", {"date_from": "2026-01-01", "date_to": "2026-03-31"}
    ).context["report"]
    assert report.trend.by == "week"
    weeks = {r.day: (r.enrolled, r.conversions) for r in report.trend.rows}
    assert weeks[date(2026, 3, 2)] == (2, 0)  # Sunday the 8th is in the week of Monday the 2nd
    assert weeks[date(2026, 3, 9)] == (1, 1)
    assert min(weeks) == date(2025, 12, 29) and max(weeks) == date(2026, 3, 30)


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode())))


def test_csv_of_the_report_s_tables(marketer_client, shop):
    response = marketer_client.get(
        f"/admin/automation/plan/{shop.pk}/report/csv/", {"date_from": "2026-03-08"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="' in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[:4] == [
        ["Results by day"],
        ["Day", "Enrolled", "Conversions", "Revenue", "Links clicked"],
        ["2026-03-08", "2", "0", "0.00", "0"],
        ["2026-03-09", "1", "1", "20.00", "1"],
    ]
    texts = rows.index(["Texts"])
    assert rows[texts + 2] == ["Offer", "3", "2", "1", "1", "50.0", "1", "1"]


def test_csv_of_the_enrollments_streams_with_formula_cells_defused(marketer_client, shop):
    first = Enrollment.objects.filter(status="completed").get()
    first.contact.first_name = '=HYPERLINK("http://evil")'
    first.contact.last_name = "@SUM(A1)"
    first.contact.save()
    response = marketer_client.get(f"/admin/automation/plan/{shop.pk}/report/csv/", {"of": "enrollments"})
    assert response.status_code == 200 and response.streaming
    rows = _csv(response)
    assert rows[0][:5] == ["Enrolled at", "Phone", "First name", "Last name", "Outcome"]
    assert len(rows) == 4  # three enrollments, the test contact's left out
    bought = next(r for r in rows if r[4] == "Completed")
    assert bought[1] == first.contact.phone  # a phone number keeps its +
    assert bought[2] == '\'=HYPERLINK("http://evil")' and bought[3] == "'@SUM(A1)"
    assert bought[5] == "Thanks" and bought[9] == "Purchase" and bought[10] == "20.00"
    assert bought[0] == "2026-03-08 10:00"


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"date_from": "2026-02-30"}, "date_from: Enter a valid date."),
        ({"date_to": "yesterday", "of": "enrollments"}, "date_to: Enter a valid date."),
        ({"date_from": "2026-03-09", "date_to": "2026-03-08"}, "The start date is after the end date."),
    ],
)
def test_csv_of_a_bad_range_says_why_and_exports_nothing(marketer_client, shop, query, said):
    response = marketer_client.get(f"/admin/automation/plan/{shop.pk}/report/csv/", query)
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "Content-Disposition" not in response
    assert response.content.decode() == (
        f"No CSV: {said} Dates are written YYYY-MM-DD, the first not after the last."
    )


def test_csv_needs_the_view_permission(client, django_user_model, shop):
    client.force_login(django_user_model.objects.create_user("nobody", is_staff=True))
    assert client.get(f"/admin/automation/plan/{shop.pk}/report/csv/").status_code == 403


def _figures(report):
    return (
        report.enrolled,
        report.outcomes,
        [(r.step_id, r.reached, r.went) for r in report.funnel],
        [(r.day, r.enrolled, r.conversions, r.revenue, r.clicked) for r in report.trend.rows],
        [
            (m.step_id, m.sent, m.delivered, m.failed, m.clicked, m.replies, m.opted_out)
            for m in report.messages_by_step
        ],
        [(g.name, g.conversions, g.points, g.revenue) for g in report.goals],
        [(d.status, d.count) for d in report.delivery],
        [(link.url, link.sent, link.clicked, link.clicks) for link in report.links],
    )


def test_the_daily_roll_up_gives_the_same_report_and_counts_what_began_since_live(
    marketer_client, shop, django_assert_num_queries
):
    from automation.cockpit.jobs import report_days_refresh_task

    url = f"/admin/automation/plan/{shop.pk}/report/"
    live = _figures(marketer_client.get(url).context["report"])
    live_ninth = _figures(marketer_client.get(url, {"date_from": "2026-03-09"}).context["report"])
    with time_machine.travel(at(10, 13), tick=False):
        assert report_days_refresh_task.apply().result["days"] == 2
    kept = marketer_client.get(url).context["report"]
    assert _figures(kept) == live
    assert _figures(marketer_client.get(url, {"date_from": "2026-03-09"}).context["report"]) == live_ninth

    # Begun after the job ran: counted live, on top of the kept days.
    with time_machine.travel(at(10, 14), tick=False):
        late = _enroll(shop, ["offer"], status="active", when=at(10, 14))
        _text(late, "offer", "delivered")
    from automation.cockpit.reports import plan_report

    plan_report(plan=shop)
    # The roll-up's moment, whether any began since, the live queries over those (no
    # opt-out among them: no opt-out query), then the kept days.
    with django_assert_num_queries(12):
        report = plan_report(plan=shop)
    assert report.enrolled == 4
    assert report.trend.rows[-1].day == date(2026, 3, 10) and report.trend.rows[-1].enrolled == 1
    assert {m.step_id: m.sent for m in report.messages_by_step} == {"offer": 4, "thanks": 1}

    # The next run keeps that day too; a run with nothing new keeps the days still open.
    with time_machine.travel(at(10, 15), tick=False):
        assert report_days_refresh_task.apply().result["days"] == 3
    with django_assert_num_queries(3):  # nothing begun since: the moment, a check, the days
        assert _figures(plan_report(plan=shop)) == _figures(report)


def test_opened_a_link_per_branch_counts_only_links_sent_after_the_split(marketer_client, settings):
    from datetime import timedelta

    settings.TIME_ZONE = "UTC"
    plan = plan_make(
        steps=[
            send("hello", "Hi! https://shop.example/new", next_step="ab", name="Hello"),
            {
                "id": "ab",
                "type": "split_random",
                "name": "Offer A/B",
                "branches": [
                    {"name": "A", "weight": 50, "next": "offer-a"},
                    {"name": "B", "weight": 50, "next": "offer-b"},
                ],
            },
            send("offer-a", "10% off https://shop.example/a", name="Offer A"),
            send("offer-b", "Free shipping https://shop.example/b", name="Offer B"),
        ]
    )
    for branch, clicked_step in (("A", "hello"), ("B", "offer-b")):
        when = at(8, 10)
        enrollment = _enroll(plan, ["hello"], status="completed", when=when)
        for step_id, source, value, kind in (
            ("ab", "hello", "", ""),
            (f"offer-{branch.lower()}", "ab", branch, "branch"),
        ):
            EnrollmentStep.objects.create(
                enrollment=enrollment, step_id=step_id, from_step_id=source, via="step", value=value,
                value_kind=kind, occurred_at=when + timedelta(minutes=1),
            )  # fmt: skip
        sent = when if clicked_step == "hello" else when + timedelta(minutes=1)
        _text(enrollment, clicked_step, "delivered", sent=sent, link_clicked=when + timedelta(hours=1))

    report = marketer_client.get(f"/admin/automation/plan/{plan.pk}/report/").context["report"]
    (split,) = report.splits
    opened = {b.name: {g[0]: g[1] for g in b.goals}["Opened a link"] for b in split.branches}
    assert opened == {"A": 0, "B": 1}  # A's click was on the link sent before the split
    assert {m.step_id: m.clicked for m in report.messages_by_step} == {"hello": 1, "offer-a": 0, "offer-b": 1}
