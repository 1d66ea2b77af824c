"""Plans side by side and the contact's page in a real browser (issue 21, points 4 and 6),
as a marketer at a laptop's and a phone's width: the plans list's results for a range,
sorted by a click on a column; a contact's page that opens on who they are and their
timeline, consent in green, an opt-out in amber, editing one click away; and the report's
headers, never broken inside a word. Nothing is wider than the window."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from automation.models import Enrollment
from automation.tests.factories import EnrollmentFactory, plan_make
from contacts.models import ConsentEvent
from contacts.tests.factories import ContactFactory
from tests.browser.conftest import WIDTHS, assert_fits, broken_words, screenshot
from tracking.models import GoalConversion
from tracking.tests.factories import GoalFactory, InteractionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shop():
    """Two plans with enrollments, conversions and revenue; Ada, who gave consent, bought,
    and texted; Bo, who opted out."""
    now = timezone.now()
    goal = GoalFactory(name="Purchase", points=10)
    plans = {}
    for name, enrolled, bought in (("Cart rescue", 4, ["40.00", "25.00"]), ("Welcome series", 6, ["90.00"])):
        plan = plans[name] = plan_make(name=name)
        for i in range(enrolled):
            enrollment = EnrollmentFactory(plan=plan, enrolled_at=now - timedelta(days=i))
            if i < len(bought):
                GoalConversion.objects.create(
                    contact=enrollment.contact,
                    goal=goal,
                    enrollment=enrollment,
                    points=10,
                    value=Decimal(bought[i]),
                    occurred_at=now,
                )
    ada = ContactFactory(
        phone="+442071838750",
        first_name="Ada",
        last_name="Lovelace",
        email="ada.lovelace@analytical-engine.example.org",
        attributes={
            "vip": True,
            "favourite_product": "Difference engine, brass",
            "address": {"city": "London"},
        },
        consent_at=now - timedelta(days=3),
    )
    ConsentEvent.objects.create(
        contact=ada,
        kind="consent",
        source="admin",
        detail="signed up at the counter",
        occurred_at=now - timedelta(days=3),
    )
    EnrollmentFactory(plan=plan_make(name="Newsletter"), contact=ada, enrolled_at=now - timedelta(days=2))
    for i in range(30):
        InteractionFactory(
            contact=ada, body=f"Message number {i}: where is my order? https://shop.example/orders/{i}"
        )
    bo = ContactFactory(phone="+12125550188", first_name="Bo", opted_out=True, opted_out_at=now)
    ConsentEvent.objects.create(contact=bo, kind="opt_out", source="keyword", detail="STOP", occurred_at=now)
    return plans, ada, bo


@pytest.mark.parametrize("width", list(WIDTHS))
def test_plans_side_by_side_and_a_contact_who_opens_on_the_timeline(marketer_page, shots, width):
    page = marketer_page
    page.set_viewport_size(WIDTHS[width])
    suffix = "" if width == "laptop" else "-phone"
    _plans, ada, bo = _shop()

    # The plans list: results for 30 days unless asked; a click on "Revenue per recipient" sorts.
    page.goto("/admin/automation/plan/")
    assert page.locator(".plans-range-choice.selected").inner_text() == "30 days"
    row = page.locator("#result_list tr", has_text="Cart rescue")
    assert row.locator("td.field-results_enrolled").inner_text() == "4"
    assert row.locator("td.field-results_conversion").inner_text().startswith("50.0%")
    assert row.locator("td.field-results_revenue").inner_text() == "65.00"
    assert row.locator("td.field-results_per_recipient").inner_text() == "16.25"
    assert_fits(page, "the plans list")
    if width == "laptop":  # every column in view, beside both sidebars: the table does not scroll
        assert page.evaluate("(e => e.scrollWidth <= e.clientWidth)(document.querySelector('.results'))")
    names = page.locator("#result_list tbody .field-name")
    page.click("th.column-results_per_recipient .text a")  # lowest first: —, 15.00, 16.25
    page.wait_for_url(re.compile(r"[?&]o=\d+"))
    assert names.all_inner_texts() == ["Newsletter", "Welcome series", "Cart rescue"]
    page.click("th.column-results_per_recipient .text a")  # and the other way
    page.wait_for_url(re.compile(r"[?&]o=-\d+"))
    assert names.all_inner_texts() == ["Cart rescue", "Welcome series", "Newsletter"]
    page.click(".plans-range-choice:has-text('7 days')")
    page.wait_for_url(re.compile(r"range=7d"))
    assert "o=" in page.url  # the sort is kept
    assert_fits(page, "the plans list for 7 days")
    screenshot(page, shots(f"plans-list{suffix}"))

    # The number enrolled leads to the plan's report for the same dates, which says the same.
    row = page.locator("#result_list tr", has_text="Cart rescue")
    enrolled = row.locator("td.field-results_enrolled").inner_text()
    row.locator("td.field-results_enrolled a").click()
    page.wait_for_url(re.compile(r"/report/\?date_from="))
    assert page.inner_text('[data-key="enrolled"]') == enrolled
    assert_fits(page, "the report")
    assert broken_words(page, "#content-main table th") == [], "a report header is broken inside a word"

    # Ada's page: who she is, and her timeline in the first screen.
    page.goto(f"/admin/contacts/contact/{ada.pk}/change/")
    assert page.inner_text("#contact-consent").startswith("Marketing consent given")
    assert "favourite_product" in page.inner_text("#contact-attributes")
    assert "Newsletter" in page.inner_text("#contact-journeys")
    top = page.locator("#contact-timeline").bounding_box()["y"]
    assert top < WIDTHS[width]["height"], f"the timeline starts {top} px down"
    # The newest message is in view: the timeline opens at its end.
    assert page.locator(".cockpit-timeline li", has_text="Message number 29").is_visible()
    newest = page.locator(".cockpit-timeline li", has_text="Message number 29").bounding_box()
    box = page.locator(".contact-timeline-scroll").bounding_box()
    assert box["y"] <= newest["y"] <= box["y"] + box["height"]
    consent = page.locator(".cockpit-timeline li.event-consent")
    assert consent.evaluate("e => getComputedStyle(e).color") == "rgb(27, 94, 32)"  # green, not red
    assert_fits(page, "the contact's page")
    assert broken_words(page, "#content-main table th") == []
    screenshot(page, shots(f"contact{suffix}"))

    # Editing is one click away; saving comes back to her page.
    page.click("#contact-edit")
    page.wait_for_url(re.compile(r"/edit/$"))
    assert_fits(page, "the contact's form")
    page.fill("#id_first_name", "Augusta Ada")
    page.click("input[name=_save]")
    page.wait_for_url(re.compile(rf"/contact/{ada.pk}/change/$"))
    assert "Augusta Ada Lovelace" in page.inner_text("#content-main")
    assert page.locator(".messagelist .success").count() == 1

    # Bo opted out: a warning, in amber.
    page.goto(f"/admin/contacts/contact/{bo.pk}/change/")
    assert page.locator("#contact-consent").evaluate("e => getComputedStyle(e).color") == "rgb(122, 79, 0)"
    opt_out = page.locator(".cockpit-timeline li.event-opt_out")
    assert opt_out.evaluate("e => getComputedStyle(e).color") == "rgb(122, 79, 0)"
    assert_fits(page, "an opted-out contact's page")
    assert Enrollment.objects.filter(contact=ada).count() == 1
