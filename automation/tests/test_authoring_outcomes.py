"""Issue 21, point 5 — authoring shows outcomes, through the admin as a Marketer, on the
cart rescue (automation/tests/factories.py): every way out drawn (a wait's event to the
end, timers, an ask's replies, other and silence, a split's branches), goals and revenue
on the diagram and the step list, steps by their titles and in the journey's order, texts
whole, and a way out that makes its new step in place."""

import copy
import re
from html import unescape

import pytest
from django.urls import reverse

from automation.cockpit.steps_view import flow_order
from automation.engine.plans import plan_draft_document, plan_import
from automation.flow import flow_build, flow_read
from automation.models import Plan
from automation.tests.admin_forms import change_url, newest, page_data, post_step, step_url
from automation.tests.factories import CART_RESCUE, CART_URL, ask, plan_document, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def cart_rescue(db) -> Plan:
    return plan_import(document=copy.deepcopy(CART_RESCUE)).plan


def _diagram(html: str) -> str:
    start = html.index('<svg xmlns="http://www.w3.org/2000/svg" class="plan-diagram"')
    return html[start:].split("</svg>")[0]


def _edges(svg: str) -> list[tuple[str, str, str, str]]:
    """(kind, source, target, title) of every arrow drawn."""
    return re.findall(
        r'<path class="edge (\w+)(?: to-end)?" data-source="([\w-]+)" data-target="([\w:-]+)"[^>]*>'
        r"<title>([^<]*)</title>",
        svg,
    )


def _steps_listed(html: str) -> str:
    return html[html.index('id="plan-steps"') :].split("</fieldset>")[0]


def test_the_diagram_draws_every_way_out_of_the_cart_rescue_with_its_goal(marketer_client, cart_rescue):
    html = marketer_client.get(change_url(cart_rescue)).content.decode()
    svg = _diagram(html)
    edges = _edges(svg)
    # Every way out of every step: 1 + 2 + 2 + 1 + 2 + 1 + 2.
    assert len(edges) == 11
    by = {(source, target, kind): unescape(title) for kind, source, target, title in edges}
    # A wait's event that ends the journey, drawn to the step's End, starred with its goal.
    assert by[("wait-purchase", "end:wait-purchase", "reply")] == (
        "purchase: ★ Purchased · 10 points · revenue: each purchase's value"
    )
    assert ">purchase ★<" in svg
    assert 'class="end" data-end-of="wait-purchase"' in svg and ">End<" in svg
    # Timers, dashed: on to the offer, and to the end after a day.
    assert by[("wait-purchase", "offer-split", "timeout")] == "none within 4 hours"
    assert by[("wait-a", "end:wait-a", "timeout")] == "none within 24 hours"
    assert re.search(r'class="edge timeout to-end" data-source="wait-b"[^>]*stroke-dasharray', svg)
    # The split's branches, in their order.
    assert by[("offer-split", "offer-a", "reply")] == "A (50)"
    assert by[("offer-split", "offer-b", "reply")] == "B (50)"
    # The goals under the drawing; the drawing fits its page by its viewBox.
    legend = " ".join(unescape(t) for t in re.findall(r'<text class="goal-legend"[^>]*>([^<]*)<', svg))
    assert legend == (
        "★ Purchased · 10 points · revenue: each purchase's value; reached when a purchase event comes, "
        "at any step"
    )
    assert re.search(r'viewBox="0 0 \d+ \d+"', svg)
    assert "data-plan-diagram" in html and "/static/cockpit/diagram.js" in html


def test_an_asks_replies_other_and_silence_are_drawn_and_a_steps_goal_is_marked(marketer_client):
    steps = [
        ask("invite", "Want our offers? Reply YES or NO.",
            [({"match": "keyword", "words": ["YES"], "goal": "interested"}, "thanks"), ("NO", None)],
            other={"text": "YES or NO?", "repeat": 1, "next": "sorry"},
            timeout={"after": "PT2H", "next": None}),
        send("thanks", "Welcome aboard!", goal="signed-up"),
        send("sorry", "No worries, bye."),
    ]  # fmt: skip
    goals = [
        {"slug": "interested", "name": "Interested", "points": 2},
        {"slug": "signed-up", "name": "Signed up", "points": 5},
    ]
    plan = plan_import(document=plan_document(goals=goals, steps=steps)).plan
    html = marketer_client.get(change_url(plan)).content.decode()
    by = {(s, t, k): unescape(title) for k, s, t, title in _edges(_diagram(html))}
    assert by == {
        ("invite", "thanks", "reply"): "YES: ★ Interested · 2 points",
        ("invite", "end:invite", "reply"): "NO",
        ("invite", "sorry", "reply"): "any other reply",
        ("invite", "end:invite", "timeout"): "no reply for 2 hours",
        ("thanks", "end:thanks", "reply"): "then",
        ("sorry", "end:sorry", "reply"): "then",
    }
    svg = _diagram(html)
    assert '<text class="goal" font-weight="bold"' in svg and ">★ Signed up · 5 points<" in svg
    listed = _steps_listed(html)
    assert '<span class="tag tag-goal">★ Signed up · 5 points</span>' in listed
    yes = '<span class="exit-label">YES</span> <span class="exit-goal">★ Interested · 2 points</span>'
    assert yes in listed
    assert "Interested · 2 points; reached at “Ask: Want our offers? Reply YES or NO.” (YES)" in unescape(
        listed
    )


def test_the_step_list_marks_goals_and_revenue_and_keeps_texts_whole(marketer_client, cart_rescue):
    listed = unescape(_steps_listed(marketer_client.get(change_url(cart_rescue)).content.decode()))
    assert (
        "★ Purchased · 10 points · revenue: each purchase's value; reached when a purchase event comes, "
        "at any step" in listed
    )
    wait = listed[listed.index('data-step-id="wait-purchase"') :].split("</li>\n  \n")[0]
    assert '<span class="exit-label">purchase</span> <span class="exit-goal">★ Purchased · 10 points' in wait
    assert "End of the journey" in wait and "none within 4 hours" in wait
    # The whole text, its link too, not cut at 60 characters.
    assert f"you left something in your cart: {CART_URL} Reply STOP to opt out." in listed


def test_the_diagram_wraps_a_text_rather_than_cutting_its_link(marketer_client, cart_rescue):
    svg = _diagram(marketer_client.get(change_url(cart_rescue)).content.decode())
    box = svg[svg.index('data-step-id="cart-reminder"') :].split("</g>")[0]
    drawn = re.findall(r'<text x="[\d.]+" y="[\d.]+" fill="#555">([^<]*)</text>', box)
    lines = [unescape(line) for line in drawn]
    assert CART_URL in "".join(lines).replace(" ", "")  # every piece of the link is drawn
    assert all(len(line) <= 22 for line in lines) and not any(line.endswith("…") for line in lines)


def test_the_step_list_goes_the_way_of_the_journey_branch_a_before_b(marketer_client, cart_rescue):
    listed = _steps_listed(marketer_client.get(change_url(cart_rescue)).content.decode())
    order = re.findall(r'<li class="plan-step step-\w+" data-step-id="([\w-]+)"', listed)
    assert order == [
        "cart-reminder", "wait-purchase", "offer-split", "offer-a", "wait-a", "offer-b", "wait-b",
    ]  # fmt: skip
    assert "Move up" not in listed  # the order is the journey's: nothing to move


def test_a_step_two_ways_reach_comes_after_both_and_a_loop_back_does_not_count():
    steps = [
        ask("rate", "Rate us 1-5", [("HIGH", "thanks"), ("LOW", "sorry")],
            timeout={"after": "PT2H", "next": "remind"}),
        send("email", "Your email?"),
        send("thanks", "Thanks!", "email"),
        send("remind", "Still there?", "rate"),
        send("sorry", "Sorry!", "email"),
    ]  # fmt: skip
    normal, problems = flow_read(plan_document(steps=steps))
    assert not problems
    assert flow_order(flow_build(normal)) == ["rate", "thanks", "sorry", "email", "remind"]


def test_prompts_and_choices_name_steps_by_their_titles_never_their_ids(marketer_client, cart_rescue):
    add = reverse("admin:automation_plan_step_add", args=[cart_rescue.pk])
    kinds = unescape(marketer_client.get(add + "?after=wait-purchase&exit=timeout.next").content.decode())
    assert "After “Wait for purchase”: none within 4 hours → the new step." in kinds
    page = marketer_client.get(add + "?after=cart-reminder&exit=next&type=send").content.decode()
    text = unescape(page)
    assert "After “Cart reminder”: then → this step." in text
    assert "It comes after" not in text
    # The exits' choices: titles (and what a named step does), grouped; no "(cart-reminder)".
    assert '<option value="cart-reminder">Cart reminder — Send: Hi {{ contact.first_name }}, you…<' in text
    assert '<option value="wait-purchase" selected>Wait for purchase</option>' in text
    assert '<optgroup label="A new step, made when this one is saved"><option value="new:send">' in text
    assert "(cart-reminder)" not in text and "(wait-purchase)" not in text
    # A problem names the step by its title.
    response = post_step(marketer_client, cart_rescue, "offer-split", **{"branches-0-next": ""})
    problems = " ".join(response.context["form"].non_field_errors())
    assert "“Ten percent off” cannot be reached" in problems and "“A day after 10% off” cannot" in problems


def test_a_way_out_makes_its_new_step_in_place(marketer_client, cart_rescue):
    before = newest(cart_rescue)
    # The last wait's timeout, pointed at a new text: nothing is saved yet, its page follows.
    page = post_step(marketer_client, cart_rescue, "wait-b", name="A day to decide", timeout_next="new:send")
    assert page.status_code == 200 and newest(cart_rescue) == before
    text = unescape(page.content.decode())
    assert "A new step: Send a text, then go on" in text
    assert "After “A day to decide”: none within 24 hours → this step." in text
    assert "Nothing is saved yet: “A day to decide” waits for this new step." in text
    # Its one POST makes it, puts it on that way out and saves the wait's own change with it.
    new_url = reverse("admin:automation_plan_step_new", args=[cart_rescue.pk])
    data = page_data(page) | {"chain": page.context["chain"], "id": "last-call", "name": "Last call"}
    response = marketer_client.post(new_url, data | {"text": "Last call: your cart expires tonight."})
    assert response.status_code == 302, response.context["form"].errors
    document = plan_draft_document(plan=cart_rescue)
    steps = {s["id"]: s for s in document["steps"]}
    assert steps["wait-b"]["name"] == "A day to decide"
    assert steps["wait-b"]["timeout"] == {"after": "PT24H", "next": "last-call"}
    assert steps["last-call"] == {
        "id": "last-call", "name": "Last call", "type": "send",
        "text": "Last call: your cart expires tonight.", "next": None,
    }  # fmt: skip
    assert newest(cart_rescue).number == before.number + 1  # one change to the draft
    said = unescape(marketer_client.get(change_url(cart_rescue)).content.decode())
    assert "“A day to decide” is saved in the draft, with its new steps: “Last call”." in said


def test_both_branches_of_a_split_make_their_new_steps_one_after_the_other(marketer_client, cart_rescue):
    url = step_url(cart_rescue, "offer-split")
    page = post_step(marketer_client, cart_rescue, "offer-split", **{
        "branches-0-next": "new:send", "branches-1-next": "new:delay", "branches-2-name": "C",
        "branches-2-weight": "20", "branches-2-next": "offer-a"})  # fmt: skip
    assert page.status_code == 200, page.context["form"].errors
    assert "After “Which offer”: A (50) → this step." in unescape(page.content.decode())
    new_url = reverse("admin:automation_plan_step_new", args=[cart_rescue.pk])
    first = marketer_client.post(new_url, page_data(page) | {"chain": page.context["chain"], "text": "A!"})
    assert first.status_code == 200 and "A new step: Wait for a while" in first.content.decode()
    assert "After “Which offer”: B (50) → this step." in unescape(first.content.decode())
    assert "“Which offer”, “Send: A!” wait for this new step" in unescape(first.content.decode())
    data = page_data(first) | {"chain": first.context["chain"], "wait_for_0": "2", "wait_for_1": "hours"}
    # B's old steps would be left unreachable: refused in words, nothing saved.
    refused = marketer_client.post(new_url, data)
    assert "“Free shipping” cannot be reached" in " ".join(refused.context["form"].non_field_errors())
    assert newest(cart_rescue).number == 1
    response = marketer_client.post(new_url, data | {"next": "offer-b"})
    assert response.status_code == 302, response.context["form"].errors
    steps = {s["id"]: s for s in plan_draft_document(plan=cart_rescue)["steps"]}
    branches = steps["offer-split"]["branches"]
    assert [b["name"] for b in branches] == ["A", "B", "C"]
    assert steps[branches[0]["next"]]["text"] == "A!"
    assert steps[branches[1]["next"]] == {"id": "delay", "type": "delay", "for": "PT2H", "next": "offer-b"}
    assert branches[2]["next"] == "offer-a"
    assert marketer_client.get(url).status_code == 200


def test_bad_input_to_a_new_step_says_what_is_wrong_and_changes_nothing(marketer_client, cart_rescue):
    before = newest(cart_rescue)
    new_url = reverse("admin:automation_plan_step_new", args=[cart_rescue.pk])
    # A kind that does not exist.
    response = post_step(marketer_client, cart_rescue, "wait-b", timeout_next="new:teleport")
    assert response.status_code == 200
    assert "“new:teleport” is not one of the choices" in unescape(str(response.context["form"].errors))
    # The new step's own form: a text is required; the chain goes on waiting.
    page = post_step(marketer_client, cart_rescue, "wait-b", timeout_next="new:send")
    data = page_data(page) | {"chain": page.context["chain"]}
    response = marketer_client.post(new_url, data | {"text": ""})
    assert response.status_code == 200 and response.context["form"].errors["text"]
    assert response.context["chain"]
    # The whole plan is checked: an id another step has is refused, on its field.
    response = marketer_client.post(new_url, data | {"text": "Hi", "id": "offer-a"})
    assert response.status_code == 200
    assert "offer-a" in str(response.context["form"].errors)
    # A changed, foreign or missing chain: said, and nothing saved.
    for token in (data["chain"][:-2] + "xx", "", "not-a-token"):
        said = marketer_client.post(new_url, data | {"chain": token, "text": "Hi"}, follow=True)
        assert "nothing was saved" in said.content.decode()
    other = plan_import(document=plan_document()).plan
    other_url = reverse("admin:automation_plan_step_new", args=[other.pk])
    said = marketer_client.post(other_url, data | {"text": "Hi"}, follow=True).content.decode()
    assert "another plan" in said
    assert marketer_client.get(new_url).status_code == 405
    assert newest(cart_rescue) == before and newest(other).number == 1
