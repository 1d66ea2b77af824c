"""Events in a real browser: a marketer tries a plan entered by a shop's sign-up and moved on
by a purchase, sending the events from Try it (laptop and phone widths); then a shop posts
real events to POST /api/events/ on the live server, and the report shows the revenue."""

import json
import urllib.request

import pytest

from conftest import api_user
from tests.browser.conftest import WIDTHS, assert_fits, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WELCOME = "Welcome to Shop! Your first order ships free. Msg&data rates may apply. Reply STOP to opt out."
PLAN = {
    "format": "smsjourney.plan/1",
    "slug": "welcome-series",
    "name": "Welcome series",
    "entry": {"trigger": "event", "event": "signup"},
    "goals": [{"slug": "first-order", "name": "First order", "points": 50, "event": "purchase"}],
    "start": "welcome",
    "steps": [
        {"id": "welcome", "type": "send", "text": WELCOME, "next": "wait"},
        {"id": "wait", "name": "Waiting for the first order", "type": "wait_event", "event": "purchase",
         "next": "thanks", "timeout": {"after": "P3D", "next": "nudge"}},
        {"id": "thanks", "type": "send", "text": "Thanks for your first order! Follow it at https://shop.example.com/orders",
         "next": None},
        {"id": "nudge", "type": "send", "text": "Still browsing? Your free shipping waits.", "next": None},
    ],
}  # fmt: skip


def post_event(base_url: str, token: str, **event) -> dict:
    request = urllib.request.Request(  # noqa: S310 - the live server, over http
        f"{base_url}/api/events/",
        data=json.dumps(event).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 - the live server
        assert response.status in (200, 201)
        return json.loads(response.read())


@pytest.mark.parametrize("width", ["laptop", "phone"])
def test_a_marketer_tries_an_event_plan_and_reads_its_revenue(marketer_page, live_server, shots, width):
    from rest_framework.authtoken.models import Token

    from automation.engine.plans import plan_import
    from automation.models import Plan
    from tracking.models import TrackedLink

    page = marketer_page
    page.set_viewport_size(WIDTHS[width])
    plan = plan_import(document=PLAN).plan
    assert Plan.objects.get(pk=plan.pk).status == "active"

    page.goto(f"/admin/automation/plan/{plan.pk}/try/")
    assert_fits(page, "Try it")
    page.fill("#id_type", "signup")
    page.click("button[name=event]")
    page.wait_for_selector("text=The test contact entered Welcome series")
    assert WELCOME in page.inner_text(".cockpit-timeline")
    assert "Waiting for the first order" in page.inner_text("#simulator-state")
    assert page.input_value("#id_type") == "purchase"  # what the step waits for

    page.fill("#id_value", "49.90")
    page.click("button[name=event]")
    page.wait_for_selector("text=Thanks for your first order!")
    timeline = page.inner_text(".cockpit-timeline")
    assert "Event: purchase" in timeline and "value 49.90" in timeline
    assert "+50 points · value 49.90" in timeline
    assert_fits(page, "Try it after two events")
    screenshot(page, shots("simulator-events" + ("-phone" if width == "phone" else "")))

    # The shop, for real: a sign-up with consent, then the first order.
    token = Token.objects.create(user=api_user("shop", "tracking.add_interaction")).key
    for i, amount in enumerate(("20.00", "35.50")):
        phone = f"+1212555{3000 + i}"
        signed_up = post_event(
            live_server.url, token, event_id=f"s-{i}", phone=phone, type="signup", opt_in=True
        )
        assert signed_up["enrolled"] == ["welcome-series"]
        post_event(live_server.url, token, event_id=f"o-{i}", phone=phone, type="purchase", value=amount)
    post_event(live_server.url, token, event_id="s-9", phone="+12125553009", type="signup")  # no consent
    # One of the two follows the link in the thanks text (a browser's request, redirected).
    code = TrackedLink.objects.get(contact__phone="+12125553000").code
    followed = page.request.get(f"{live_server.url}/l/{code}", max_redirects=0)
    assert (followed.status, followed.headers["location"]) == (302, "https://shop.example.com/orders")

    page.goto(f"/admin/automation/plan/{plan.pk}/report/")
    assert page.inner_text("#report-revenue") == "55.50"
    assert "55.50" in page.inner_text("#report-goals")
    assert page.inner_text("[data-key=enrolled]") == "2"  # the one without consent never entered
    links = page.inner_text("#report-links")
    assert "https://shop.example.com/orders\t2\t1\t50.0%\t1" in links  # sent in 2, opened by 1
    assert_fits(page, "the report")
    screenshot(
        page, shots("report-revenue" + ("-phone" if width == "phone" else "")), down_to="#report-links"
    )
