"""The sending queue and the bulk enrollment estimate in a real browser, as a marketer
(laptop and phone widths): reached from the admin's home page, nothing wider than the
window."""

import pytest
from django.utils import timezone

from automation.tests.factories import ask, plan_make
from contacts.tests.factories import ContactFactory
from messaging.models import Lane
from messaging.senders import sender_save
from messaging.tests.factories import OutboundMessageFactory
from tests.browser.conftest import WIDTHS, assert_fits, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_marketer_watches_the_queue_and_reads_the_estimate(marketer_page, shots, width):
    page = marketer_page
    page.set_viewport_size(WIDTHS[width])
    suffix = "" if width == "laptop" else "-phone"
    tollfree = sender_save(address="+18445550100", mps=3, name="Toll-free support")
    short = sender_save(address="12345", mps=100, name="Campaign short code")
    OutboundMessageFactory.create_batch(2, sender=tollfree, lane=Lane.REPLY)
    OutboundMessageFactory.create_batch(12, sender=short, lane=Lane.CAMPAIGN, segments=2)
    OutboundMessageFactory.create_batch(3, sender=None, lane=Lane.CAMPAIGN)
    plan_make(
        name="Spring sale",
        entry={"trigger": "none", "sender": "+18445550100"},
        steps=[ask("hello", "Spring sale: 20% off. Reply YES to get it.")],
    )
    contact = ContactFactory(consent_at=timezone.now())

    page.goto("/admin/")
    page.click("#cockpit-module a:has-text('Sending queue')")
    page.wait_for_url("**/admin/sending-queue/")
    row = page.locator("#sending-queue tr[data-sender='12345']")
    assert row.locator("td.campaign").inner_text().startswith("12")
    assert row.locator("td.limit").inner_text() == "100 MPS"
    assert_fits(page, "the sending queue")
    screenshot(page, shots(f"sending-queue{suffix}"))

    page.goto("/admin/contacts/contact/")
    page.locator(f"input[name=_selected_action][value='{contact.pk}']").check()
    page.select_option("select[name=action]", "enroll_in_plan")
    page.click("button[name=index]")
    estimate = page.locator("#send-estimates").inner_text()
    assert "Sends from Toll-free support (+18445550100). At 3 MPS this takes under a minute" in estimate
    assert_fits(page, "the bulk enrollment page")
    screenshot(page, shots(f"bulk-estimate{suffix}"))
