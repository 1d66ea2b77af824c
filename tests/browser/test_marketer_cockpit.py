"""A marketer's afternoon, in a real browser: build a two-step plan on its page, step by
step with each step's form (a refused keyword says why), publish it, chat with it in the
simulator, then read the diagram, the report and a contact's timeline."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import save_step, texted

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_marketer_builds_publishes_tries_and_reads_the_report(marketer_page, shots, settings):
    from automation.models import Plan

    page = marketer_page

    # A new plan: its settings, then its steps, each on its own form; no JSON anywhere.
    page.goto("/admin/automation/plan/add/")
    page.locator("#id_name").press_sequentially("Coffee club")  # the slug follows as it is typed
    expect(page.locator("#id_slug")).to_have_value("coffee-club")
    page.select_option("#id_trigger", "keyword")
    page.fill("#id_keywords", "COFFEE")
    page.fill("#id_goals-0-slug", "coffee-bought")
    page.fill("#id_goals-0-name", "Coffee bought")
    page.fill("#id_goals-0-points", "5")
    page.click("input[name=_continue]")
    page.wait_for_url(re.compile(r"/admin/automation/plan/\d+/change/"))
    plan = Plan.objects.get(slug="coffee-club")

    # After the starter text: ask, and wait for BUY (a compliance word is refused, by name).
    page.click("[data-step-id=hello] .exit-add")
    page.click("text=Ask and wait for a reply")
    page.fill("#id_id", "invited")
    page.fill("#id_name", "Invited")
    page.fill("#id_text", "Hi {{ contact.first_name }}! Reply BUY for a free coffee.")
    page.select_option("#id_rules-0-match", "keyword")
    page.fill("#id_rules-0-words", "STOP")
    page.fill("#id_other_text", "Reply BUY for your coffee.")
    page.click("input[value='Save step']")
    assert "'STOP' is a compliance word" in page.inner_text(".step-row.errors")
    page.fill("#id_rules-0-words", "buy")
    save_step(page)

    # BUY leads to a new text that records the goal.
    page.click("[data-step-id=invited] .exit-add")
    page.click("text=Send a text, then go on")
    page.fill("#id_id", "bought")
    page.fill("#id_name", "Bought")
    page.fill("#id_text", "Enjoy your coffee!")
    page.select_option("#id_goal", "coffee-bought")
    save_step(page)

    # Drop the starter text (the question becomes the first step); then publish.
    page.click("[data-step-id=hello] .deletelink")
    assert "“Invited” becomes the first step" in page.inner_text("#content-main")
    page.click("input[type=submit][value^='Yes, delete']")
    page.wait_for_url(re.compile(r"/change/"))
    assert page.locator(".plan-step").count() == 2
    page.click("input[name=_publish]")
    page.wait_for_url(re.compile(r"/admin/automation/plan/\d+/change/"))
    assert "Revision 1 of “Coffee club” is published" in page.inner_text(".messagelist")
    plan = Plan.objects.get(slug="coffee-club")
    assert (plan.status, plan.published.number) == ("active", 1)
    published = plan.published.document
    assert [s["id"] for s in published["steps"]] == ["invited", "bought"]
    assert published["steps"][0]["rules"] == [{"match": "keyword", "words": ["buy"], "next": "bought"}]

    # Try it: the simulator runs the real engine for a test contact.
    page.goto(f"/admin/automation/plan/{plan.pk}/try/")
    page.fill("#id_text", "coffee")
    page.click("button[name=send]")
    page.wait_for_selector(".bubble.outbound")
    assert "Reply BUY for a free coffee." in page.inner_text(".cockpit-timeline")
    assert "Invited" in page.inner_text("#simulator-state")
    page.fill("#id_text", "what?")
    page.click("button[name=send]")
    page.wait_for_selector("text=Reply BUY for your coffee.")
    page.fill("#id_text", " Buy! ")
    page.click("button[name=send]")
    page.wait_for_selector("text=Enjoy your coffee!")
    assert "Bought" in page.inner_text("#simulator-state")
    assert "completed" in page.inner_text("#simulator-state")

    # A few real contacts go through the plan (as if they had texted in).
    journeys = {
        "+14155550141": ["coffee", "buy"],
        "+14155550142": ["coffee", "buy"],
        "+14155550143": ["coffee", "hmm"],
        "+14155550144": ["coffee"],
        "+14155550145": ["coffee", "STOP"],
    }
    for phone, texts in journeys.items():
        for text in texts:
            texted(phone, text)

    # The diagram on the plan's page: both steps, the keyword arrow, live counts.
    page.goto(f"/admin/automation/plan/{plan.pk}/change/")
    diagram = page.locator("svg.plan-diagram")
    assert diagram.is_visible()
    assert diagram.locator("g.state.start").get_attribute("data-active") == "2"  # two still in Invited
    assert "BUY" in diagram.text_content()

    # The report: the five real contacts, not the test contact.
    page.click("text=Report")
    page.wait_for_url(re.compile(r"/report/"))
    assert page.inner_text('[data-key="enrolled"]') == "5"
    assert page.inner_text('[data-key="completed"]') == "2"
    assert page.inner_text('[data-key="opted_out"]') == "1"
    funnel = page.inner_text("#report-funnel")
    assert re.search(r"Bought\s+end\s+Send a text, then go on\s+2\s+40.0%", funnel), funnel
    went = page.inner_text("#report-funnel tr[data-step-id=invited] .went")
    assert "→ Bought: 2" in went and "waiting here now: 2" in went and "opted out here: 1" in went
    assert page.inner_text("#engagement-value") == "10"
    page.fill("#id_date_from", "2999-01-01")
    page.click("text=Filter")
    page.wait_for_url(re.compile(r"date_from=2999-01-01"))
    assert page.inner_text('[data-key="enrolled"]') == "0"

    # A contact's timeline: bubbles and journey events, delivery status on each reply.
    from contacts.models import Contact

    contact = Contact.objects.get(phone="+14155550143")
    page.goto(f"/admin/contacts/contact/{contact.pk}/change/")
    timeline = page.locator("#contact-timeline")
    assert timeline.locator(".bubble.inbound").count() == 2
    assert timeline.locator(".bubble.outbound").count() == 2
    assert "Enrolled in Coffee club" in timeline.inner_text()
    timeline.screenshot(path=shots("timeline"))

    # The seed journey's diagram: a timeout (dashed) and two ways into Quoted.
    from automation.engine.plans import plan_load_demo

    demo = plan_load_demo()
    page.goto(f"/admin/automation/plan/{demo.pk}/change/")
    assert page.locator("svg.plan-diagram path.edge.timeout").count() == 1
    page.locator(".cockpit-diagram").screenshot(path=shots("diagram-demo"))

    # The contacts list offers CSV import/export and the bulk enrollment action.
    page.goto("/admin/contacts/contact/")
    assert page.locator("a.import_link, a:has-text('Import')").count() >= 1
    assert page.locator("select[name=action] option[value=enroll_in_plan]").count() == 1
