"""Plans side by side (issue 21, point 4): the plans list shows, for a chosen range, each
plan's enrolled, conversion, revenue and revenue per recipient, sortable by each — the
very figures of each plan's report for the same dates, counted live or from the daily
roll-up — for Marketers as for superusers, in a number of queries that does not grow
with the plans."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from automation.models import Enrollment
from automation.tests.factories import EnrollmentFactory, plan_make
from contacts.tests.factories import ContactFactory
from tracking.models import GoalConversion
from tracking.tests.factories import GoalFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
LIST = "/admin/automation/plan/"


def _enroll(plan, *, days_ago: float, value=None, goals=1, test=False):
    """An enrollment begun `days_ago` before NOW; `value`: it converted a goal (with that
    revenue; "none": without a value), `goals` goals in all."""
    when = NOW - timedelta(days=days_ago)
    enrollment = EnrollmentFactory(plan=plan, contact=ContactFactory(is_test=test), enrolled_at=when)
    if value is not None:
        for n in range(goals):
            GoalConversion.objects.create(
                contact=enrollment.contact,
                goal=GoalFactory(name=f"Goal {plan.pk}.{enrollment.pk}.{n}"),
                enrollment=enrollment,
                points=1,
                value=None if value == "none" or n else Decimal(value),
                occurred_at=when + timedelta(hours=1),
            )
    return enrollment


@pytest.fixture
def plans(settings):
    settings.TIME_ZONE = "UTC"
    with time_machine.travel(NOW, tick=False):
        cart = plan_make(name="Cart rescue")
        welcome = plan_make(name="Welcome")
        quiet = plan_make(name="Quiet")  # nobody ever enrolled
        # Cart rescue: two this week (one bought 40.00 and reached a second goal), one 20
        # days ago (bought 25.50), one 60 days ago (converted without a value), one 200
        # days ago (bought 100.00); a test contact who bought is never counted.
        _enroll(cart, days_ago=1, value="40.00", goals=2)
        _enroll(cart, days_ago=3)
        _enroll(cart, days_ago=20, value="25.50")
        _enroll(cart, days_ago=60, value="none")
        _enroll(cart, days_ago=200, value="100.00")
        _enroll(cart, days_ago=2, value="999.00", test=True)
        # Welcome: three this week, one bought 90.00; two 40 days ago, nothing.
        _enroll(welcome, days_ago=0.5, value="90.00")
        _enroll(welcome, days_ago=2)
        _enroll(welcome, days_ago=6)
        _enroll(welcome, days_ago=40)
        _enroll(welcome, days_ago=41)
    return {"cart": cart, "welcome": welcome, "quiet": quiet}


def _list(client, **params):
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        response = client.get(LIST, params)
    assert response.status_code == 200
    return response


def _shown(response) -> dict[str, tuple]:
    """Each plan's row: (enrolled, conversions, conversion rate, revenue, per recipient)."""
    rows = {}
    for plan in response.context["cl"].result_list:
        r = plan.results_row.results
        rows[plan.name] = (r.enrolled, r.conversions, r.conversion_rate, r.revenue, r.revenue_per_recipient)
    return rows


def _report(client, plan, query: str):
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        response = client.get(f"{LIST}{plan.pk}/report/?{query}")
    assert response.status_code == 200
    return response.context["report"]


@pytest.fixture(params=["marketer", "superuser"])
def anyone(request, marketer_client, admin_client):
    """The list as a Marketer and as a superuser: both see the same."""
    return marketer_client if request.param == "marketer" else admin_client


def test_each_range_by_hand(anyone, plans):
    seven = _shown(_list(anyone, range="7d"))
    assert seven["Cart rescue"] == (2, 2, 100.0, Decimal("40.00"), Decimal("20.00"))
    assert seven["Welcome"] == (3, 1, 33.3, Decimal("90.00"), Decimal("30.00"))
    assert seven["Quiet"] == (0, 0, None, None, None)
    thirty = _shown(_list(anyone))  # 30 days unless asked
    assert thirty["Cart rescue"] == (3, 3, 100.0, Decimal("65.50"), Decimal("21.83"))
    ninety = _shown(_list(anyone, range="90d"))
    assert ninety["Cart rescue"] == (4, 4, 100.0, Decimal("65.50"), Decimal("16.38"))
    assert ninety["Welcome"] == (5, 1, 20.0, Decimal("90.00"), Decimal("18.00"))
    everything = _shown(_list(anyone, range="all"))
    assert everything["Cart rescue"] == (5, 5, 100.0, Decimal("165.50"), Decimal("33.10"))


def test_the_page_shows_the_columns_and_the_range(anyone, plans):
    page = _list(anyone, range="7d").content.decode()
    for title in ("Enrolled", "Conversion", "Revenue", "Revenue per recipient"):
        header = rf'class="sortable column-results_\w+">\s*<div class="text"><a href="[^"]+">{title}<'
        assert re.search(header, page), title
    assert "33.3%<br>" in page and ">1 conversion<" in page and ">2 conversions<" in page
    assert "begun from 14 Mar 2026 to 20 Mar 2026" in page
    # The number enrolled leads to the plan's report for the same dates.
    cart = plans["cart"].pk
    report = f'href="/admin/automation/plan/{cart}/report/?date_from=2026-03-14&amp;date_to=2026-03-20"'
    assert page.count(report) == 2  # the number enrolled, and "Report"
    assert re.search(r'class="plans-range-choice selected" data-range="7d"', page)


@pytest.mark.parametrize(
    "query",
    [
        {"range": "7d"},
        {"range": "30d"},
        {"range": "90d"},
        {"range": "all"},
        {"date_from": "2026-01-01", "date_to": "2026-03-01"},
        {"date_from": "2026-03-15"},
        {"date_to": "2026-03-01"},
    ],
)
def test_the_figures_are_the_reports_live_and_from_the_roll_up(marketer_client, plans, query):
    from automation.cockpit.jobs import report_days_refresh_task

    def compare():
        response = _list(marketer_client, **query)
        shown = _shown(response)
        rng = response.context["cl"].plans_range
        for plan in plans.values():
            report = _report(marketer_client, plan, rng.query)
            assert shown[plan.name][:2] == (report.enrolled, report.conversions), plan.name
            assert shown[plan.name][3] == report.revenue, plan.name

    compare()  # counted live
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        report_days_refresh_task.apply()
    # Begun since the job ran: counted live on top of the kept days, in both.
    with time_machine.travel(NOW - timedelta(minutes=30), tick=False):
        _enroll(plans["welcome"], days_ago=1 / 48, value="12.00")
        _enroll(plans["quiet"], days_ago=1 / 48)
    compare()
    assert _shown(_list(marketer_client, range="7d"))["Quiet"][0] == 1


def _order(client, column: str, descending=False) -> list[str]:
    cl = _list(client).context["cl"]
    index = cl.list_display.index(column)
    response = _list(client, range="7d", o=f"{'-' if descending else ''}{index}")
    return [plan.name for plan in response.context["cl"].result_list]


@pytest.mark.parametrize(
    ("column", "ascending"),
    [
        ("results_enrolled", ["Quiet", "Cart rescue", "Welcome"]),
        ("results_conversion", ["Quiet", "Welcome", "Cart rescue"]),
        ("results_revenue", ["Quiet", "Cart rescue", "Welcome"]),
        ("results_per_recipient", ["Quiet", "Cart rescue", "Welcome"]),
    ],
)
def test_each_column_sorts_both_ways(anyone, plans, column, ascending):
    assert _order(anyone, column) == ascending
    assert _order(anyone, column, descending=True) == ascending[::-1]


def test_the_range_stays_in_the_sort_links_and_other_filters_stay_in_the_range_links(anyone, plans):
    page = _list(anyone, range="90d", status__exact="active").content.decode()
    headers = re.findall(
        r'<th scope="col" class="sortable column-results_enrolled">.*?href="([^"]+)"', page, re.S
    )
    assert "range=90d" in headers[0] and "status__exact=active" in headers[0]
    seven = re.search(r'href="([^"]+)" class="plans-range-choice" data-range="7d"', page).group(1)
    assert "status__exact=active" in seven and "range=7d" in seven and "90d" not in seven
    # The dates' form keeps the page's other parameters too (not the preset: dates replace it).
    dates_form = re.search(r'<form method="get" class="plans-range-dates">.*?</form>', page, re.S).group(0)
    assert '<input type="hidden" name="status__exact" value="active">' in dates_form
    assert 'name="range"' not in dates_form


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"date_from": "2026-03-10", "date_to": "2026-03-01"}, "The start date is after the end date."),
        ({"date_from": "yesterday"}, "Enter a valid date."),
        ({"date_to": "2026-02-30"}, "Enter a valid date."),
    ],
)
def test_bad_dates_say_why_and_show_thirty_days(anyone, plans, query, said):
    response = _list(anyone, **query)
    page = response.content.decode()
    assert said in page and 'id="plans-range-errors"' in page
    assert _shown(response) == _shown(_list(anyone, range="30d"))


def test_an_unknown_range_is_thirty_days(anyone, plans):
    response = _list(anyone, range="1y")
    assert response.context["cl"].plans_range.key == "30d"
    assert _shown(response) == _shown(_list(anyone, range="30d"))


def test_the_queries_do_not_grow_with_the_plans_or_the_range(marketer_client, plans):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(**params) -> int:
        _list(marketer_client, **params)  # (a process reads a published revision once: then cached)
        with CaptureQueriesContext(connection) as queries:
            _list(marketer_client, **params)
        return len(queries)

    few = count(range="all")
    with time_machine.travel(NOW, tick=False):
        for n in range(6):
            plan = plan_make(name=f"More {n}")
            _enroll(plan, days_ago=n, value="5.00")
    assert count(range="all") == few
    assert count(range="7d") == few
    # The figures themselves: the range's kept days of every plan, and what began since.
    with CaptureQueriesContext(connection) as queries:
        _list(marketer_client, range="30d")
    sql = [q["sql"] for q in queries]
    assert len([q for q in sql if '"automation_reportday"' in q]) == 1
    assert len([q for q in sql if q.startswith('SELECT "automation_enrollment"."plan_id"')]) == 1


def test_active_enrollments_are_counted_without_test_contacts(marketer_client, plans):
    Enrollment.objects.filter(plan=plans["welcome"]).update(status="completed")
    response = _list(marketer_client)
    active = {plan.name: plan.active_count for plan in response.context["cl"].result_list}
    assert active == {"Cart rescue": 5, "Welcome": 0, "Quiet": 0}
