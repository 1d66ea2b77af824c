"""Issue 11's survey, built from scratch in a real browser by a marketer who writes no JSON,
at a laptop's 1366 px and at a phone's width: SURVEY enters; "rate us 1-5"; 4-5 are thanked
with a review link; 1-3 are asked what went wrong and their answer is kept; the email is
captured; the first question is A/B tested; VIPs (a contact attribute) get their own
wording; one reminder after 2 h of silence. Then the marketer tries it (skipping the
two hours), publishes it, edits and publishes a second revision, and reads the report."""

import re

import pytest

from tests.browser.conftest import WIDTHS, assert_fits, save_step, screenshot, texted

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RATE = "How likely are you to recommend us? Reply 1-5."


def add_after(page, step_id: str, exit_field: str, kind: str) -> None:
    page.click(f"[data-step-id='{step_id}'] [data-exit='{exit_field}'] .exit-add")
    page.click(f"text={kind}")
    page.wait_for_url(re.compile(r"type="))


def rating_rules(page, *, high: str, low: str) -> None:
    for row, (lo, hi, target) in enumerate((("4", "5", high), ("1", "3", low))):
        page.select_option(f"#id_rules-{row}-match", "number")
        page.fill(f"#id_rules-{row}-min", lo)
        page.fill(f"#id_rules-{row}-max", hi)
        page.fill(f"#id_rules-{row}-save_as", "attributes.score")
        if target:
            page.select_option(f"#id_rules-{row}-next", target)
    page.fill("#id_other_text", "Please reply with a number from 1 to 5.")


def ask(page, step_id: str, name: str, text: str) -> None:
    page.fill("#id_id", step_id)
    page.fill("#id_name", name)
    page.fill("#id_text", text)


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_marketer_builds_tries_publishes_and_reads_the_survey(marketer_page, shots, width):
    from automation.models import Enrollment, Plan
    from contacts.models import Contact

    page = marketer_page

    page.set_viewport_size(WIDTHS[width])
    suffix = "" if width == "laptop" else "-phone"
    page.goto("/admin/")
    assert "smsjourney" in page.inner_text("#site-name")

    # The plan: who enters, its goals.
    page.goto("/admin/automation/plan/add/")
    page.locator("#id_name").press_sequentially("Spring survey")
    page.select_option("#id_trigger", "keyword")
    page.fill("#id_keywords", "SURVEY")
    page.fill("#id_goals-0-slug", "promoter")
    page.fill("#id_goals-0-name", "Promoter")
    page.fill("#id_goals-0-points", "5")
    page.click("input[name=_continue]")
    page.wait_for_url(re.compile(r"/admin/automation/plan/\d+/change/"))
    plan = Plan.objects.get(slug="spring-survey")
    page.fill("#id_goals-1-slug", "email-captured")
    page.fill("#id_goals-1-name", "Email captured")
    page.fill("#id_goals-1-points", "2")
    page.click("input[name=_continue]")
    page.wait_for_url(re.compile(r"/change/"))

    # VIPs first: a split on a contact attribute.
    add_after(page, "hello", "next", "Split on a contact field")
    page.fill("#id_id", "vip")
    page.fill("#id_name", "VIP?")
    page.fill("#id_field", "attributes.vip")
    page.select_option("#id_cases-0-op", "eq")
    page.fill("#id_cases-0-value", "true")
    save_step(page)

    # The A/B test of the first question.
    add_after(page, "vip", "default", "Split at random (A/B)")
    page.fill("#id_id", "ab")
    page.fill("#id_name", "First question A/B")
    for row, name in enumerate("AB"):
        page.fill(f"#id_branches-{row}-name", name)
        page.fill(f"#id_branches-{row}-weight", "50")
    save_step(page)

    # Question A: a scale of 1 to 5, the answer kept; two hours of silence noticed.
    add_after(page, "ab", "branches[0].next", "Ask and wait for a reply")
    assert_fits(page, "the step form")
    ask(page, "ask-a", "Asked (A)", RATE)
    rating_rules(page, high="", low="")
    page.fill("#id_timeout_after_0", "2")
    page.select_option("#id_timeout_after_1", "hours")
    save_step(page)

    add_after(page, "ask-a", "rules[0].next", "Send a text, then go on")
    page.fill("#id_id", "thanks")
    page.fill("#id_name", "Promoter")
    page.fill("#id_text", "Thank you! Would you review us? https://example.com/review")
    page.select_option("#id_goal", "promoter")
    save_step(page)

    add_after(page, "thanks", "next", "Ask and wait for a reply")
    ask(page, "ask-email", "Asked for email", "Want our offers by email? Reply with your address, or NO.")
    page.select_option("#id_rules-0-match", "email")
    page.fill("#id_rules-0-save_as", "email")
    page.select_option("#id_rules-0-goal", "email-captured")
    page.select_option("#id_rules-1-match", "keyword")
    page.fill("#id_rules-1-words", "NO, NOPE")
    save_step(page)

    add_after(page, "ask-a", "rules[1].next", "Ask and wait for a reply")
    ask(page, "sorry", "Detractor", "Sorry to hear that. What went wrong?")
    page.select_option("#id_rules-0-match", "any")
    page.fill("#id_rules-0-save_as", "attributes.feedback")
    page.select_option("#id_rules-0-next", "ask-email")
    save_step(page)

    add_after(page, "ask-a", "timeout.next", "Ask and wait for a reply")
    ask(page, "remind", "Reminded", "Just a reminder: how would you rate us, 1-5?")
    rating_rules(page, high="thanks", low="sorry")
    save_step(page)

    add_after(page, "ab", "branches[1].next", "Ask and wait for a reply")
    ask(page, "ask-b", "Asked (B)", "Quick one: rate your last order from 1 (bad) to 5 (great).")
    rating_rules(page, high="thanks", low="sorry")
    page.fill("#id_timeout_after_0", "2")
    page.select_option("#id_timeout_next", "remind")
    save_step(page)

    add_after(page, "vip", "cases[0].next", "Ask and wait for a reply")
    ask(page, "ask-vip", "Asked (VIP)", "As one of our best customers: how would you rate us, 1-5?")
    rating_rules(page, high="thanks", low="sorry")
    page.fill("#id_timeout_after_0", "2")
    page.select_option("#id_timeout_next", "remind")
    save_step(page)

    # A typo is said on its field, in words, and saves nothing. (Screenshots are taken
    # after a page's form is used: a full-page one at a phone's width can leave the next
    # click unanswered in Chromium.)
    page.goto(f"/admin/automation/plan/{plan.pk}/steps/ask-a/")
    screenshot(page, shots(f"plan-step{suffix}"))
    page.fill("#id_rules-0-save_as", "score")
    page.click("input[value='Save step']")
    assert "'score' is not a contact field" in page.inner_text(".step-row.errors")
    page.goto(f"/admin/automation/plan/{plan.pk}/change/")

    # The starter text goes; VIP? becomes the first step. Then publish.
    page.click("[data-step-id=hello] .deletelink")
    page.click("input[type=submit][value^='Yes, delete']")
    page.wait_for_url(re.compile(r"/change/"))
    assert page.locator(".plan-step").count() == 9
    assert_fits(page, "the plan's page")
    assert page.locator("svg.plan-diagram g.state").count() == 9
    page.click("input[name=_publish]")
    page.wait_for_url(re.compile(r"/change/"))
    assert "Revision 1 of “Spring survey” is published" in page.inner_text(".messagelist")
    screenshot(page, shots(f"plan{suffix}"), down_to=".cockpit-diagram")  # its top
    first = Plan.objects.get(pk=plan.pk).published.document
    assert first["start"] == "vip" and len(first["steps"]) == 9
    assert first["entry"]["keywords"] == ["SURVEY"]

    # Try it: branch A chosen, the two hours skipped, a promoter who leaves an email.
    page.click("text=Try it")
    page.wait_for_url(re.compile(r"/try/"))
    page.select_option("select[name=split-ab]", "A")
    page.click("button[name=branches]")
    page.fill("#id_text", "SURVEY")
    page.click("button[name=send]")
    page.wait_for_selector(f"text={RATE}")
    page.click("button[name=fast_forward]")
    page.wait_for_selector("text=Just a reminder: how would you rate us, 1-5?")
    page.fill("#id_text", "5")
    page.click("button[name=send]")
    page.wait_for_selector("text=Want our offers by email?")
    page.fill("#id_text", "Mia@Example.com")
    page.click("button[name=send]")
    page.wait_for_selector("#simulator-state >> text=completed")
    values = page.inner_text("#simulator-values")
    assert "attributes.score" in values and "mia@example.com" in values
    steps = page.inner_text("#simulator-steps")
    assert "branch A" in steps and "Reminded" in steps and "Promoter" in steps
    assert_fits(page, "the simulator")
    screenshot(page, shots(f"simulator{suffix}"), down_to=".simulator-reset, #simulator-values")

    # A second revision: better wording for question A.
    page.goto(f"/admin/automation/plan/{plan.pk}/steps/ask-a/")
    page.fill("#id_text", "Hi! How likely are you to recommend us? Reply 1-5.")
    save_step(page)
    assert "the draft" in page.inner_text("#plan-steps h2")
    page.click("input[name=_publish]")
    page.wait_for_url(re.compile(r"/change/"))
    assert "Revision 2 of “Spring survey” is published" in page.inner_text(".messagelist")
    revision_two = Plan.objects.get(pk=plan.pk).published
    assert revision_two.number == 2

    # Real contacts answer (as if they had texted in), then the report.
    Contact.objects.create(phone="+14155550150", attributes={"vip": True})
    answers = {f"+1415555{160 + i:04d}": [str(i % 5 + 1)] for i in range(10)}
    answers["+14155550150"] = ["4", "NO"]
    for phone, texts in answers.items():
        if not texts[0].isdigit() or int(texts[0]) <= 3:
            texts.append("The parcel came late")
        for text in ["SURVEY", *texts]:
            texted(phone, text)
    assert Enrollment.objects.filter(revision=revision_two, contact__is_test=False).count() == 11

    page.goto(f"/admin/automation/plan/{plan.pk}/report/")
    assert page.inner_text('[data-key="enrolled"]') == "11"
    vip_went = page.inner_text("#report-funnel tr[data-step-id=vip] .went")
    assert "→ Asked (VIP): 1" in vip_went and "→ First question A/B: 10" in vip_went
    split = page.locator("#report-split-ab")
    assert split.locator("tbody tr").count() == 2
    assert "two-proportion z-test" in page.inner_text("#content-main")
    answers_box = page.inner_text("#report-answers")
    assert "The parcel came late" in answers_box
    assert_fits(page, "the report")
    screenshot(page, shots(f"report{suffix}"), down_to="#report-split-ab", pad=120)  # its top
