"""The plan page's text preview, in a real browser: typing re-renders the text for the
sample contact with its encoding and segment count; a broken template shows why."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_live_preview_follows_typing(page, shots, django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    log_in(page, "root")
    page.goto("/admin/automation/plan/add/")

    body = page.locator("#sms-preview-input")
    body.fill("Hi {{ contact.first_name }}! Reply QUOTE.")
    expect(page.locator("#sms-preview-body")).to_have_text("Hi Alex! Reply QUOTE.")
    stats = page.locator("#sms-preview-stats")
    assert "GSM-7" in stats.inner_text()
    assert "1 segment" in stats.inner_text()

    body.fill("Merci \U0001f600 " + "x" * 70)
    expect(page.locator("#sms-preview-stats")).to_contain_text("UCS-2")
    assert "2 segments" in stats.inner_text()
    assert "\U0001f600" in stats.inner_text()
    page.locator("#sms-preview").screenshot(path=shots("sms-preview"))

    body.fill("Hi {% if %}")
    expect(page.locator("#sms-preview-error")).to_be_visible()
    assert "does not render" in page.locator("#sms-preview-error").inner_text()
