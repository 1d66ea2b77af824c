"""The plan report over time, per message and as CSV (issue 21, points 2, 3 and 8), in a real
browser as a Marketer, on ten days of a cart rescue made through the product's doors
(tests/browser/cart_fortnight.py, whose table says what each contact did). Every figure
below is counted by hand from those stories.

At a laptop's 1366 px and a phone's 390 px: the results by day (chart and table), the date
range applied to both and to the figures per message, by week for a long range; each
text's sent, delivered, failed, clicked, replies and opt-outs; the ends of the journey and
how people got there. At a laptop: the two CSV links download files (Playwright's
downloads) with a safe name and type, whose figures are the page's; a bad range says why on
the page and in a download's answer, never a 500. No CSP violation (the `page` fixture)."""

import csv
import io
import re
from collections import Counter

import pytest
import time_machine

from tests.browser.cart_fortnight import NOW, cart_fortnight
from tests.browser.conftest import WIDTHS, _marketer, assert_fits, broken_words, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Results by day, all time: day → enrolled, conversions, revenue, links clicked.
BY_DAY = {
    "2026-03-02": ["2", "1", "30.00", "1"],  # c1, c2; c1 bought and clicked
    "2026-03-03": ["0", "0", "0.00", "0"],
    "2026-03-04": ["0", "0", "0.00", "0"],
    "2026-03-05": ["0", "0", "0.00", "0"],
    "2026-03-06": ["3", "1", "45.00", "1"],  # c3, c4, c5; c3 bought; c4 opened the offer
    "2026-03-07": ["0", "0", "0.00", "0"],
    "2026-03-08": ["0", "0", "0.00", "0"],
    "2026-03-09": ["2", "1", "35.00", "0"],  # c6, c7; c7 bought
    "2026-03-10": ["0", "0", "0.00", "0"],
    "2026-03-11": ["2", "1", "20.00", "1"],  # c8, c9; c8 bought and clicked
    "2026-03-12": ["3", "1", "25.00", "2"],  # c10, c11, c12; c10 bought; c10 and c12 clicked
}
# Per text: sent, delivered (rate), failed, clicked (of delivered), replies, opt-outs.
TEXTS = {
    "reminder": ["12", "10 · 83.3%", "2", "4 · 40.0%", "0", "2"],  # c6 refused, c7 undelivered; c2, c11 STOP
    "offer": ["5", "4 · 80.0%", "1", "1 · 25.0%", "2", "0"],  # c4, c5, c6 (refused), c9, c12; YES from c4, c9
    "code": ["2", "2 · 100.0%", "0", "0 · 0.0%", "0", "0"],
}
ENDS = {  # each step: where its enrollments went, or how they ended there
    "reminder": {"→ Waiting for the purchase": 12},
    "wait": {"→ Ten percent off": 5, "completed: purchase came": 5, "opted out here": 2},
    "offer": {"→ Code sent": 2, "completed: the wait timed out": 1, "expired here": 1, "waiting here now": 1},
    "code": {"completed here": 2},
}
OUTCOMES = {
    "enrolled": "12",
    "active": "1",
    "completed": "8",
    "expired": "1",
    "opted_out": "2",
    "failed": "0",
}
# From Friday 6 to Wednesday 11 March: c3 … c9.
RANGE = ("2026-03-06", "2026-03-11")
RANGE_BY_DAY = {day: BY_DAY[day] for day in list(BY_DAY)[4:10]}
RANGE_TEXTS = {
    "reminder": ["7", "5 · 71.4%", "2", "1 · 20.0%", "0", "0"],
    "offer": ["4", "3 · 75.0%", "1", "1 · 33.3%", "2", "0"],
    "code": TEXTS["code"],
}
RANGE_ENDS = {
    "wait": {"→ Ten percent off": 4, "completed: purchase came": 3},
    "offer": {"→ Code sent": 2, "completed: the wait timed out": 1, "expired here": 1},
}


def _trend(page) -> dict:
    rows = page.locator("#report-trend tbody tr")
    return {
        row.get_attribute("data-day"): [c.strip() for c in row.locator("td").all_inner_texts()[1:]]
        for row in rows.all()
    }


def _texts(page) -> dict:
    keys = ("sent", "delivered", "failed", "clicked", "replies", "opted_out")
    return {
        row.get_attribute("data-step-id"): [
            row.locator(f"td[data-key={k}]").inner_text().strip() for k in keys
        ]
        for row in page.locator("#report-messages tbody tr").all()
    }


def _ends(page) -> dict:
    out = {}
    for row in page.locator("#report-funnel tbody tr").all():
        items = [
            re.fullmatch(r"(.+): (\d+)", i.strip()).groups()
            for i in row.locator(".went-item").all_inner_texts()
        ]
        out[row.get_attribute("data-step-id")] = {where: int(n) for where, n in items}
    return out


def _chart(page, points: int, first: str, last: str, what: str) -> None:
    """The chart has a point per row of the table, from its first day to its last, and is no
    wider than its card and the window."""
    chart = page.locator("#report-trend-chart svg.report-trend")
    assert chart.is_visible(), what
    drawn = chart.locator("polyline").evaluate_all("ls => ls.map(l => l.points.numberOfItems)")
    assert drawn == [points] * 3, (what, drawn)  # enrolled, conversions, links clicked
    labels = chart.locator("text").all_text_contents()
    assert first in labels and last in labels, (what, labels)
    box, card = chart.bounding_box(), page.locator("#report-trend-chart").bounding_box()
    assert box["x"] >= card["x"] - 1 and box["x"] + box["width"] <= card["x"] + card["width"] + 1, what
    assert_fits(page, what)


def _read_a_fortnight(page, django_user_model, settings, fake_twilio):
    plan = cart_fortnight(settings, fake_twilio)
    _marketer(django_user_model)
    log_in(page, "mia")
    page.goto(f"/admin/automation/plan/{plan.pk}/report/")
    return plan


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_report_by_day_per_text_and_how_journeys_ended(
    page, django_user_model, settings, fake_twilio, shots, width
):
    page.set_viewport_size(WIDTHS[width])
    suffix = "" if width == "laptop" else "-phone"
    with time_machine.travel(NOW, tick=True):
        _read_a_fortnight(page, django_user_model, settings, fake_twilio)

        # All time: eleven days, from the first cart to today (roll-up to Wednesday, today live).
        assert {k: page.inner_text(f'[data-key="{k}"]') for k in OUTCOMES} == OUTCOMES
        assert page.inner_text("#report-revenue") == "155.00"  # 30 + 45 + 35 + 20 + 25
        assert page.inner_text("h2:has-text('Results by')") == "Results by day"
        assert _trend(page) == BY_DAY
        _chart(page, 11, "Mar 2", "Mar 12", "the chart of all time")
        assert _texts(page) == TEXTS
        assert _ends(page) == ENDS
        assert page.inner_text("#report-goals tfoot").split() == ["Total", "5", "50", "155.00"]
        assert_fits(page, "the report")
        # Steps' names and every table head read in whole words (the bar beside them is narrowed).
        assert broken_words(page, "#report-funnel td:first-child, #content-main table th") == []
        screenshot(page, shots(f"report-over-time{suffix}"), down_to="#report-messages", pad=90)

        # A range, picked in the form: the chart, the table and the figures per text follow it.
        page.fill("#id_date_from", RANGE[0])
        page.fill("#id_date_to", RANGE[1])
        page.click("text=Filter")
        page.wait_for_url(re.compile(rf"date_from={RANGE[0]}&date_to={RANGE[1]}"))
        assert page.inner_text('[data-key="enrolled"]') == "7"
        assert _trend(page) == RANGE_BY_DAY
        _chart(page, 6, "Mar 6", "Mar 11", "the chart of six days")
        assert _texts(page) == RANGE_TEXTS
        ends = _ends(page)
        assert {step: ends[step] for step in RANGE_ENDS} == RANGE_ENDS
        assert page.inner_text("#report-revenue") == "100.00"

        # A long range (71 days) is shown by week: the weeks of 2 and 9 March hold it all.
        page.fill("#id_date_from", "2026-01-01")
        page.fill("#id_date_to", "2026-03-12")
        page.click("text=Filter")
        page.wait_for_url(re.compile(r"date_from=2026-01-01"))
        assert page.inner_text("h2:has-text('Results by')") == "Results by week"
        assert page.inner_text("#report-trend thead th >> nth=0") == "Week of"
        weeks = _trend(page)
        assert [*weeks][:: len(weeks) - 1] == ["2025-12-29", "2026-03-09"] and len(weeks) == 11
        assert weeks["2026-03-02"] == ["5", "2", "75.00", "2"]  # c1 … c5
        assert weeks["2026-03-09"] == ["7", "3", "80.00", "3"]  # c6 … c12
        assert all(
            v == ["0", "0", "0.00", "0"] for k, v in weeks.items() if k not in ("2026-03-02", "2026-03-09")
        )
        _chart(page, 11, "Dec 29", "Mar 9", "the chart by week")
        assert _texts(page) == TEXTS


def _csv(download) -> list[list[str]]:
    with open(download.path(), encoding="utf-8") as f:
        return list(csv.reader(io.StringIO(f.read())))


def _section(rows: list[list[str]], title: str) -> list[list[str]]:
    """The rows of the CSV's table under `title` (after its header row)."""
    start = rows.index([title]) + 2
    end = next((i for i in range(start, len(rows)) if not rows[i]), len(rows))
    return rows[start:end]


def _download(page, link: str):
    """Click the report's CSV link; the download and the answer it came in."""
    with page.expect_response(re.compile(r"/report/csv/")) as answer, page.expect_download() as download:
        page.locator("#report-downloads a", has_text=link).click()
    return download.value, answer.value


def test_the_report_s_csv_says_what_the_page_says_and_a_bad_range_says_why(
    page, django_user_model, settings, fake_twilio
):
    page.set_viewport_size(WIDTHS["laptop"])
    with time_machine.travel(NOW, tick=True):
        plan = _read_a_fortnight(page, django_user_model, settings, fake_twilio)
        page.goto(f"/admin/automation/plan/{plan.pk}/report/?date_from={RANGE[0]}&date_to={RANGE[1]}")

        # The report's tables: their figures are the page's.
        tables, answer = _download(page, "the report's tables")
        assert tables.suggested_filename == "cart-rescue-report-2026-03-06-to-2026-03-11.csv"
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        assert answer.headers["content-disposition"] == f'attachment; filename="{tables.suggested_filename}"'
        rows = _csv(tables)
        assert rows[:2] == [
            ["Results by day"],
            ["Day", "Enrolled", "Conversions", "Revenue", "Links clicked"],
        ]
        assert {r[0]: r[1:] for r in _section(rows, "Results by day")} == _trend(page)
        page_texts = {k: [re.sub(r" · .*", "", v) for v in vs] for k, vs in _texts(page).items()}
        names = {"Cart reminder": "reminder", "Ten percent off": "offer", "Code sent": "code"}
        csv_texts = {names[r[0]]: [r[1], r[2], r[3], r[4], r[6], r[7]] for r in _section(rows, "Texts")}
        assert csv_texts == page_texts
        assert [r[5] for r in _section(rows, "Texts")] == ["20.0", "33.3", "0.0"]  # % clicked of delivered
        outcomes = dict(_section(rows, "Outcomes"))
        assert outcomes["Enrolled"] == page.inner_text('[data-key="enrolled"]') == "7"
        assert outcomes["Expired"] == page.inner_text('[data-key="expired"]') == "1"
        assert _section(rows, "Goals") == [["Purchased", "3", "30", "100.00"]]

        # The enrollments with their outcome: one row each, adding up to the page's figures.
        enrollments, answer = _download(page, "the enrollments with their outcome")
        assert enrollments.suggested_filename == "cart-rescue-enrollments-2026-03-06-to-2026-03-11.csv"
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        header, *people = _csv(enrollments)
        assert header[:6] == [
            "Enrolled at",
            "Phone",
            "First name",
            "Last name",
            "Outcome",
            "Step now (or where it ended)",
        ]
        assert len(people) == 7 and all("2026-03-06" <= p[0][:10] <= "2026-03-11" for p in people)
        col = {name: header.index(name) for name in header}
        assert Counter(p[col["Outcome"]] for p in people) == {"Completed": 6, "Expired": 1}
        expired = next(p for p in people if p[col["Outcome"]] == "Expired")
        assert (expired[col["Phone"]], expired[col["Step now (or where it ended)"]]) == (
            "+442079460106",
            "Ten percent off",
        )
        bought = sorted(p[col["Revenue"]] for p in people if p[col["Goals reached"]] == "Purchased")
        assert bought == ["20.00", "35.00", "45.00"]
        assert f"{sum(float(v) for v in bought):.2f}" == page.inner_text("#report-revenue")
        assert all(re.fullmatch(r"[a-z0-9-]+\.csv", d.suggested_filename) for d in (tables, enrollments))

        # A bad range: the page says why and shows all time; its links download all time.
        for query, said in (
            ("date_from=2026-02-30", "Enter a valid date."),
            ("date_from=2026-03-11&date_to=2026-03-06", "The start date is after the end date."),
            ("date_from=" + "9" * 3000, "Enter a valid date."),
            ("date_to=%00", "Enter a valid date."),
        ):
            response = page.goto(f"/admin/automation/plan/{plan.pk}/report/?{query}")
            assert response.status == 200, query
            assert said in page.inner_text(".cockpit-filter .errorlist"), query
            assert page.inner_text('[data-key="enrolled"]') == "12", query
            for href in page.locator("#report-downloads a").evaluate_all("links => links.map(a => a.href)"):
                assert "date_" not in href, (query, href)
            csv_answer = page.request.get(f"/admin/automation/plan/{plan.pk}/report/csv/?{query}")
            assert csv_answer.status == 400, query
            assert csv_answer.headers["content-type"] == "text/plain; charset=utf-8"
            assert said in csv_answer.text() and csv_answer.text().startswith("No CSV: "), query
        # The calendar's edges are a range (all of it), not an error.
        page.goto(f"/admin/automation/plan/{plan.pk}/report/?date_from=0001-01-01&date_to=9999-12-31")
        assert page.inner_text('[data-key="enrolled"]') == "12"
        assert page.locator(".cockpit-filter .errorlist").count() == 0
        edges, answer = _download(page, "the enrollments with their outcome")
        assert edges.suggested_filename == "cart-rescue-enrollments-0001-01-01-to-9999-12-31.csv"
        assert len(_csv(edges)) == 13
