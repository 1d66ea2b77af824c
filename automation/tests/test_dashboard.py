"""The admin's home is a dashboard (issue 21 point 1, docs/cockpit.md "The dashboard"):
figures for today, 7 and 30 days with their change from the period before, a chart per
day, the active plans, what needs attention — for Marketers as for superusers — in a
fixed number of queries; Marketers see no Auth Token or Axes."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automation.cockpit.jobs import report_days_refresh_task
from automation.models import DashboardDay
from automation.tests.factories import EnrollmentFactory, ask, plan_make, send
from contacts.models import ConsentEvent
from contacts.tests.factories import ContactFactory
from messaging.models import Sender
from messaging.senders import sender_save
from messaging.tests.factories import OutboundMessageFactory
from tracking.models import LINK_CLICK, GoalConversion
from tracking.tests.factories import GoalFactory, InteractionFactory

pytestmark = pytest.mark.django_db

HOME = "/admin/"
NOW = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)  # a Wednesday, 3 pm (the tests' TIME_ZONE is UTC)
CLEAN = "Acme Deals: Reply NEXT. Msg frequency varies. Msg & data rates may apply. Reply STOP to opt out."


def at(day: int, hour: int, month: int = 6) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def inbound(when, n=1, **fields):
    InteractionFactory.create_batch(n, created_at=when, **fields)


def outbound(when, n=1, **fields):
    with time_machine.travel(when, tick=False):  # created_at is the time it was queued
        OutboundMessageFactory.create_batch(n, interaction__created_at=when, **fields)


def opt_out(when):
    ConsentEvent.objects.create(
        contact=ContactFactory(), kind="opt_out", source="keyword", detail="STOP", occurred_at=when
    )


def convert(enrollment, goal, when, value=None):
    GoalConversion.objects.create(
        contact=enrollment.contact, goal=goal, enrollment=enrollment, points=1, value=value, occurred_at=when
    )


@pytest.fixture
def shop():
    """A known data set around NOW: today, yesterday before and after 3 pm, the week before,
    the month before; a test contact's messages; a clean plan and a plan with warnings."""
    clean = plan_make(
        name="Cart rescue",
        entry={"trigger": "keyword", "keywords": ["CART"]},
        steps=[ask("start", CLEAN, [("NEXT", "done")]), send("done", "Done.")],
    )
    warned = plan_make(name="Spring", entry={"trigger": "keyword", "keywords": ["SPRING"]})
    test_contact = ContactFactory(is_test=True)
    # Inbound: today 3 (+ a test contact's, + an event that is no message), yesterday 2 by
    # 3 pm and 1 after; the week: 4 on the 5th (+ yesterday's 3); the week before: 2 on 28 May.
    for hour in (9, 10, 14):
        inbound(at(10, hour))
    inbound(at(10, 11), contact=test_contact)
    inbound(at(10, 12), channel="api", body="purchase", provider_sid=None)
    inbound(at(9, 8))
    inbound(at(9, 12))
    inbound(at(9, 20))
    inbound(at(5, 10), 4)
    inbound(at(28, 10, month=5), 2)
    inbound(at(20, 10, month=4), 5)  # the month before the last 30 days
    # Clicks: first clicks are link_click events. Today 1, the 5th 2.
    inbound(at(10, 13), channel="api", body=LINK_CLICK, provider_sid=None)
    inbound(at(5, 13), 2, channel="api", body=LINK_CLICK, provider_sid=None)
    # Replies (texts answering the contact): today 2 (+ one canceled); yesterday morning 1.
    outbound(at(10, 9), 2, answers_contact=True, status="delivered")
    outbound(at(10, 9), answers_contact=True, status="canceled")
    outbound(at(9, 9), answers_contact=True, status="sent")
    outbound(at(10, 9), status="delivered")  # a plan text: not a reply
    # Failing sends: today 1 failed; the 5th 1 undelivered.
    outbound(at(10, 10), status="failed")
    outbound(at(5, 10), status="undelivered")
    # Opt-outs: today 1, the 5th 1.
    opt_out(at(10, 11))
    opt_out(at(5, 11))
    # The clean plan: 2 enrolled today, one converts (30.00); 3 on the 5th, one converts on
    # the 5th (20.00) and again another goal on the 6th (5.00): converted once.
    goal, other = GoalFactory(), GoalFactory()
    today = [EnrollmentFactory(plan=clean, enrolled_at=at(10, 8)) for _ in range(2)]
    week = [EnrollmentFactory(plan=clean, enrolled_at=at(5, 8)) for _ in range(3)]
    convert(today[0], goal, at(10, 12), Decimal("30.00"))
    convert(week[0], goal, at(5, 12), Decimal("20.00"))
    convert(week[0], other, at(6, 12), Decimal("5.00"))
    EnrollmentFactory(plan=clean, enrolled_at=at(10, 8), contact=test_contact)  # left out
    return {"clean": clean, "warned": warned}


def figures(page) -> dict[str, tuple[str, str]]:
    """The figures on the page: {key: (value, change)}."""
    html = page.content.decode()
    out = {}
    for key, value, change in re.findall(
        r'data-figure="(\w+)">.*?class="dashboard-value">(.*?)</strong>\s*'
        r'<span class="dashboard-change[^"]*"[^>]*>(.*?)<span',
        html,
        re.S,
    ):
        out[key] = (value.strip(), change.strip())
    return out


def plan_row(page, slug: str) -> list[str]:
    html = page.content.decode()
    row = re.search(rf'<tr data-plan="{slug}">(.*?)</tr>', html, re.S)
    assert row, f"no row for {slug}"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    return [re.sub(r"<[^>]+>|\s+", " ", c).strip() for c in cells]


def attention(page) -> list[str]:
    html = page.content.decode()
    block = re.search(r'id="dashboard-attention">(.*?)</(?:ul|p)>', html, re.S).group(1)
    items = re.findall(r"<li[^>]*>(.*?)</li>", block, re.S)
    return [unescape(re.sub(r"<[^>]+>", "", li)).strip() for li in items]


def test_today_is_counted_by_hand_and_compared_with_yesterday_by_this_time(marketer_client, shop):
    with time_machine.travel(NOW, tick=False):
        page = marketer_client.get(HOME)
    assert page.status_code == 200
    assert figures(page) == {
        "inbound": ("3", "+50 %"),  # 3 today against 2 yesterday by 3 pm
        "replies": ("2", "+100 %"),  # 2 against 1
        "opt_outs": ("1", "new"),
        "clicks": ("1", "new"),
        "conversions": ("1", "new"),
        "revenue": ("30.00", "new"),
        "failing": ("1", "new"),
    }
    assert plan_row(page, shop["clean"].slug)[1:] == ["2", "1", "50.0 %", "30.00", "15.00"]
    assert plan_row(page, shop["warned"].slug)[1:] == ["0", "0", "—", "0.00", "—"]


def test_seven_and_thirty_days_are_the_whole_days_before_today(marketer_client, shop):
    with time_machine.travel(NOW, tick=False):
        week = marketer_client.get(HOME, {"period": "7d"})
        month = marketer_client.get(HOME, {"period": "30d"})
    # 3-9 June against 27 May-2 June: inbound 4 + 3 against 2.
    assert figures(week) == {
        "inbound": ("7", "+250 %"),
        "replies": ("1", "new"),
        "opt_outs": ("1", "new"),
        "clicks": ("2", "new"),
        "conversions": ("2", "new"),
        "revenue": ("25.00", "new"),
        "failing": ("1", "new"),
    }
    assert plan_row(week, shop["clean"].slug)[1:] == ["3", "1", "33.3 %", "25.00", "8.33"]
    # 11 May-9 June against 11 April-10 May: inbound 9 against 5.
    assert figures(month)["inbound"] == ("9", "+80 %")
    # The settled days were counted once (up to 8 June) and are read from then on.
    assert DashboardDay.objects.filter(plan=None).latest("day").day.isoformat() == "2026-06-08"
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        again = marketer_client.get(HOME, {"period": "30d"})
    assert figures(again) == figures(month)


def test_the_roll_up_job_counts_the_settled_days_before_anyone_asks(marketer_client, shop):
    """The periodic job counts every settled day the 30 days and the 30 before them show; the
    first request then counts none (no pass grouped by day, no day stored)."""
    with time_machine.travel(NOW, tick=False):
        assert report_days_refresh_task.apply().get()["dashboard_days"] == 59  # 11 Apr-8 Jun
        assert report_days_refresh_task.apply().get()["dashboard_days"] == 0  # once
        with CaptureQueriesContext(connection) as first:
            month = marketer_client.get(HOME, {"period": "30d"})
    counting = [
        q["sql"] for q in first.captured_queries if "dashboardday" in q["sql"] and "INSERT" in q["sql"]
    ]
    assert counting == []
    assert figures(month)["inbound"] == ("9", "+80 %")
    assert DashboardDay.objects.filter(plan=None).count() == 59


def test_the_chart_and_the_table_per_day(marketer_client, shop):
    with time_machine.travel(NOW, tick=False):
        page = marketer_client.get(HOME, {"period": "7d"})
    html = page.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="trend-chart"' in html
    assert "Inbound messages, Fri 05 Jun: 4" in html  # a point's tooltip
    days = re.findall(r'<tr data-day="([\d-]+)">', html)
    assert days == [f"2026-06-0{d}" for d in range(3, 10)]
    assert "style=" not in html.split('id="dashboard"')[1].split("</section>")[0]  # the CSP: no inline style


def test_what_needs_attention(marketer_client, shop):
    sender_save(address="12345", mps=1, name="Campaign short code")
    short = Sender.objects.get(address="12345")
    OutboundMessageFactory.create_batch(5, sender=short, segments=1600)  # 8,000 segments at 1 MPS
    with time_machine.travel(NOW, tick=False):
        page = marketer_client.get(HOME)
    items = attention(page)
    assert items[0] == "1 text failed or went undelivered today."
    assert items[1].startswith("“Spring” has ")
    assert "the program's name" in items[1]
    assert not any("Cart rescue" in item for item in items)
    assert items[2] == (
        "Campaign short code (12345): its campaign texts will have gone in about 2 hours (5 waiting)."
    )
    assert len(items) == 3


def test_nothing_needs_attention(marketer_client):
    plan_make(
        name="Clean",
        entry={"trigger": "keyword", "keywords": ["CLEAN"]},
        steps=[ask("start", CLEAN, [("NEXT", "done")]), send("done", "Done.")],
    )
    page = marketer_client.get(HOME)
    assert attention(page) == []
    assert "Nothing: no failing sends" in page.content.decode()


def test_a_superuser_sees_the_dashboard_too_and_bad_periods_are_today(admin_client, shop):
    with time_machine.travel(NOW, tick=False):
        page = admin_client.get(HOME, {"period": "1y"})
    assert page.status_code == 200
    assert figures(page)["inbound"] == ("3", "+50 %")
    assert 'aria-current="page">Today<' in page.content.decode()
    html = page.content.decode()
    assert "Auth Token" in html and "Axes" in html  # superusers keep them


def test_the_marketer_sees_the_dashboard_first_and_no_auth_token_or_axes(marketer_client):
    html = marketer_client.get(HOME).content.decode()
    assert html.index('id="dashboard"') < html.index('id="cockpit-module"') < html.index("Contacts")
    assert "Auth Token" not in html
    assert "Axes" not in html
    assert "Recent actions" not in html


def test_a_staff_user_who_may_not_see_plans_gets_the_plain_index(client, django_user_model):
    user = django_user_model.objects.create_user("support", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_contact"))
    client.force_login(user)
    html = client.get(HOME).content.decode()
    assert 'id="dashboard"' not in html
    assert "Contacts" in html


@pytest.mark.parametrize("period", ["today", "7d", "30d"])
def test_a_fixed_number_of_queries_whatever_the_data(
    marketer_client, shop, period, django_assert_max_num_queries
):
    with time_machine.travel(NOW, tick=False):
        # The session, the user and their permissions (4); the stored days, the active plans,
        # the live interactions, outgoing texts, opt-outs, conversions and enrollments (7); the
        # sending queue (3).
        marketer_client.get(HOME, {"period": period})  # settled days counted, warnings kept
        with django_assert_max_num_queries(14) as small:
            marketer_client.get(HOME, {"period": period})
        for day in (10, 9, 5, 4):
            inbound(at(day, 6), 20)
            outbound(at(day, 6), 10, status="failed")
        for i in range(3):
            plan_make(entry={"trigger": "keyword", "keywords": [f"MORE{i}"]})
        marketer_client.get(HOME, {"period": period})  # the new plans' warnings
        with django_assert_max_num_queries(14) as large:
            marketer_client.get(HOME, {"period": period})
    assert len(large.captured_queries) == len(small.captured_queries)
