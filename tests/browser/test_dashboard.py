"""The admin's home, the dashboard (issue 21, points 1 and 8), in a real browser as a Marketer
at a laptop's 1366 px and a phone's 390 px, on ten days of a cart rescue made through the
product's doors (tests/browser/cart_fortnight.py: the events API, the signed webhooks, a
fake Twilio over HTTP, the timers and roll-up jobs). Today's, the last 7 and the last 30
days' figures with their change, counted by hand from the stories; the chart per day
(SVG, no wider than the page, a point per day); the active plans; what needs attention, and
its link; the period switch. No CSP violation (the `page` fixture fails the test on one)."""

import re

import pytest
import time_machine

from tests.browser.cart_fortnight import NOW, cart_fortnight
from tests.browser.conftest import WIDTHS, _marketer, assert_fits, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Per period, each figure: (value, change, how it reads, the period before's value).
TODAY = {  # Thursday to 16:00, against Wednesday to 16:00 (c9's 17:00 "thanks!" not yet)
    "inbound": ("2", "+100 %", "good", "1"),  # c11's STOP, c10's "Got it" / c9's YES
    "replies": ("0", "-100 %", "bad", "1"),  # — / the code, answering c9's YES
    "opt_outs": ("1", "new", "bad", "0"),  # c11
    "clicks": ("2", "+100 %", "good", "1"),  # c10, c12 / c8
    "conversions": ("1", "0 %", "flat", "1"),  # c10 / c8
    "revenue": ("25.00", "+25 %", "good", "20.00"),
    "failing": ("0", "—", "flat", "0"),
}
SEVEN_DAYS = {  # Thu 5 to Wed 11 March, against Thu 26 February to Wed 4 March
    "inbound": ("3", "+200 %", "good", "1"),  # c4's YES, c9's YES and thanks / c2's STOP
    "replies": ("2", "new", "good", "0"),  # the codes to c4 and c9
    "opt_outs": ("0", "-100 %", "good", "1"),  # — / c2
    "clicks": ("2", "+100 %", "good", "1"),  # c4 (the offer), c8 / c1
    "conversions": ("3", "+200 %", "good", "1"),  # c3, c7, c8 / c1
    "revenue": ("100.00", "+233 %", "good", "30.00"),  # 45 + 35 + 20 / 30
    "failing": ("3", "new", "bad", "0"),  # c6's two refused, c7's undelivered
}
THIRTY_DAYS = {  # Tue 10 February to Wed 11 March: nothing before
    "inbound": ("4", "new", "good", "0"),
    "replies": ("2", "new", "good", "0"),
    "opt_outs": ("1", "new", "bad", "0"),
    "clicks": ("3", "new", "good", "0"),
    "conversions": ("4", "new", "good", "0"),
    "revenue": ("130.00", "new", "good", "0.00"),
    "failing": ("3", "new", "bad", "0"),
}
# The cart rescue in the active plans: enrolled, converted, conversion rate, revenue, per recipient.
PLAN_ROW = {
    "today": ["3", "1", "33.3 %", "25.00", "8.33"],  # c10, c11, c12; c10 bought
    "7d": ["7", "3", "42.9 %", "100.00", "14.29"],  # c3 … c9
    "30d": ["9", "4", "44.4 %", "130.00", "14.44"],  # c1 … c9
}
WARNING = "“Cart rescue” has 1 warning: “Cart reminder” sends the plan's first message, which carriers audit"


def _figures(page) -> dict:
    out = {}
    for card in page.locator("#dashboard .dashboard-figure").all():
        change = card.locator(".dashboard-change")
        said = change.inner_text().split("(before:")[0].strip()
        trend = re.search(r"trend-(\w+)", change.get_attribute("class")).group(1)
        before = card.locator(".dashboard-change .help").inner_text()
        out[card.get_attribute("data-figure")] = (
            card.locator(".dashboard-value").inner_text(),
            said,
            trend,
            before.removeprefix("(before: ").removesuffix(")"),
        )
    return out


def _plan_row(page) -> list[str]:
    row = page.locator("#dashboard-plans tr[data-plan=cart-rescue] td")
    return [cell.strip() for cell in row.all_inner_texts()[1:]]


def _chart(page, days: int, what: str) -> None:
    """The chart is drawn, has a point per day for each of the six figures, and no part of it
    is wider than the page or its card."""
    chart = page.locator("#dashboard .dashboard-chart svg.trend-chart")
    assert chart.is_visible(), what
    points = chart.locator("polyline").evaluate_all("ls => ls.map(l => l.points.numberOfItems)")
    assert points == [days] * 6, (what, points)
    box, card = chart.bounding_box(), page.locator("#dashboard .dashboard-chart").bounding_box()
    width = page.evaluate("window.innerWidth")
    assert box["width"] > 0.5 * min(width, 900) - 60, (what, box)  # drawn at a readable size
    assert box["x"] >= card["x"] - 1 and box["x"] + box["width"] <= card["x"] + card["width"] + 1, what
    assert card["x"] + card["width"] <= width + 1, (what, card, width)
    assert_fits(page, what)


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_marketer_reads_the_dashboard_of_ten_days_of_cart_rescues(
    page, django_user_model, settings, fake_twilio, shots, width
):
    page.set_viewport_size(WIDTHS[width])
    suffix = "" if width == "laptop" else "-phone"
    with time_machine.travel(NOW, tick=True):
        cart_fortnight(settings, fake_twilio)
        _marketer(django_user_model)
        log_in(page, "mia")  # the admin's home is the dashboard

        # Today, compared with yesterday by this time.
        assert page.locator(".dashboard-period.selected").inner_text() == "Today"
        assert _figures(page) == TODAY
        _chart(page, 7, "the chart of today")  # today's chart shows the last 7 days
        last = page.locator("svg.trend-chart g.series").nth(1).locator("circle").last
        assert last.locator("title").text_content() == "Replies, Thu 12 Mar: 0"
        assert _plan_row(page) == PLAN_ROW["today"]
        attention = page.locator("#dashboard-attention li")
        assert attention.all_inner_texts()[0].startswith(WARNING)  # no failing send today
        attention.first.locator("a").click()
        page.wait_for_url(re.compile(r"/admin/automation/plan/\d+/change/"))
        assert "lacks how often messages come" in page.inner_text("#plan-warnings")

        # The last 7 days: the period switch, then the failing sends in what needs attention.
        page.goto("/admin/")
        page.click(".dashboard-period:has-text('7 days')")
        page.wait_for_url(re.compile(r"\?period=7d$"))
        assert page.locator(".dashboard-period.selected").inner_text() == "7 days"
        assert "Thu 5 Mar to Wed 11 Mar" in page.inner_text(".dashboard-range")
        assert _figures(page) == SEVEN_DAYS
        _chart(page, 7, "the chart of 7 days")
        failing = page.locator("svg.trend-chart g.series").nth(5).locator("circle").nth(4)
        assert failing.locator("title").text_content() == "Failing sends, Mon 09 Mar: 3"
        assert _plan_row(page) == PLAN_ROW["7d"]
        assert attention.all_inner_texts()[0] == "3 texts failed or went undelivered in the last 7 days."
        assert "attention-error" in attention.first.get_attribute("class")
        assert attention.all_inner_texts()[1].startswith(WARNING)
        screenshot(page, shots(f"dashboard{suffix}"), down_to="#dashboard")  # (not the apps below)
        # The figures per day, under the chart: Monday the 9th had the three failing sends.
        page.click(".dashboard-days summary")
        monday = page.locator("#dashboard-days tr[data-day='2026-03-09'] td")
        assert monday.all_inner_texts() == ["Mon 9 Mar", "0", "0", "0", "0", "1", "35.00", "3"]
        assert_fits(page, "the dashboard of 7 days, its days open")
        attention.first.locator("a").click()  # the failing sends, in the outgoing messages
        page.wait_for_url(re.compile(r"/admin/messaging/outboundmessage/\?status__in="))
        assert page.locator("#result_list tbody tr").count() == 3
        assert_fits(page, "the failing sends")

        # The last 30 days: nothing before them.
        page.goto("/admin/?period=30d")
        assert _figures(page) == THIRTY_DAYS
        _chart(page, 30, "the chart of 30 days")
        assert _plan_row(page) == PLAN_ROW["30d"]
        assert attention.all_inner_texts()[0] == "3 texts failed or went undelivered in the last 30 days."

        # A period the dashboard does not know is today's.
        page.goto("/admin/?period=1y%3Cscript%3E")
        assert page.locator(".dashboard-period.selected").inner_text() == "Today"
        assert _figures(page) == TODAY
