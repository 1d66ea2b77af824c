"""Tracked links (docs/reference.md §7) through the doors: a plan's text goes out with its URLs as
``<PUBLIC_BASE_URL>/l/<code>``; ``GET /l/<code>`` redirects; the contact's first click is a
``link_click`` event for the journey that sent the link; link previews and HEAD are
redirected but never counted; the messages API lists each message's links and clicks."""

import pytest

from automation.models import Enrollment
from automation.tests.conftest import codes, link_plan
from automation.tests.factories import ask, plan_make, send
from conftest import TEST_PUBLIC_BASE_URL, api_user, bodies, token_auth
from contacts.models import Contact
from tracking.models import GoalConversion, Interaction, TrackedLink
from tracking.services import links_shorten

pytestmark = pytest.mark.django_db

PHONE = "+14155550123"


def test_a_plan_s_links_are_sent_as_tracked_links(text_in, sms_outbox):
    link_plan()
    text_in(PHONE, "spring")

    (sent,) = bodies(sms_outbox)
    (code,) = codes(sent)
    assert (
        sent == f"Spring sale: {TEST_PUBLIC_BASE_URL}/l/{code}. Ends Sunday!"
    )  # the full stop is the sentence's
    link = TrackedLink.objects.get(code=code)
    assert (link.url, link.clicks, link.contact.phone) == (
        "https://shop.example.com/spring?utm=sms",
        0,
        PHONE,
    )
    assert link.interaction.body == sent and link.enrollment == Enrollment.objects.get()


def test_each_message_gets_its_own_codes(text_in, sms_outbox):
    link_plan()
    text_in(PHONE, "spring")
    text_in("+14155550124", "spring")
    first, second = (codes(m.body)[0] for m in sms_outbox)
    assert first != second


def test_a_plan_that_does_not_track_links_sends_them_as_written(text_in, sms_outbox):
    link_plan(track_links=False)
    text_in(PHONE, "spring")
    assert sms_outbox[0].body == "Spring sale: https://shop.example.com/spring?utm=sms. Ends Sunday!"
    assert not TrackedLink.objects.exists()


def test_without_a_public_address_links_go_as_written(text_in, sms_outbox, settings):
    settings.PUBLIC_BASE_URL = ""
    settings.TWILIO_VALIDATE_SIGNATURE = False  # nothing to check the signature against here
    link_plan()
    from automation.engine.inbound import inbound_message_route
    from conftest import inbound_payload
    from tracking.services import inbound_message_receive

    accepted = inbound_message_receive(payload=inbound_payload(PHONE, "spring"))
    inbound_message_route(interaction_id=accepted.interaction_id)
    assert not TrackedLink.objects.exists()


def test_the_help_text_is_never_rewritten(text_in, sms_outbox, settings):
    settings.SMS_HELP_TEXT = "Shop alerts: help at https://shop.example.com/help. Reply STOP to opt out."
    link_plan()
    text_in(PHONE, "HELP")
    assert sms_outbox[-1].body == settings.SMS_HELP_TEXT


# --- clicks ----------------------------------------------------------------------------------------


def test_the_first_click_moves_the_journey_and_converts_goals_later_ones_count(text_in, sms_outbox, click):
    link_plan(goals=[{"slug": "clicked", "name": "Clicked", "points": 3, "event": "link_click"}])
    text_in(PHONE, "spring")
    (code,) = codes(sms_outbox[0].body)

    response = click(code)

    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.com/spring?utm=sms"
    assert response["Cache-Control"] == "no-store"
    enrollment = Enrollment.objects.get()
    assert enrollment.step_id == "thanks"
    assert sms_outbox[-1].body == "Glad you looked! Reply SIZE for your size guide."
    event = Interaction.objects.get(channel="api")
    assert (event.body, event.raw_payload["data"]) == (
        "link_click",
        {"url": "https://shop.example.com/spring?utm=sms"},
    )
    assert GoalConversion.objects.get().goal.slug == "clicked"

    for _ in range(2):
        assert click(code).status_code == 302
    link = TrackedLink.objects.get(code=code)
    assert link.clicks == 3 and link.first_clicked_at is not None
    assert Interaction.objects.filter(channel="api").count() == 1  # one event: the first click
    assert len(sms_outbox) == 2 and GoalConversion.objects.count() == 1


@pytest.mark.parametrize(
    "agent",
    [
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "facebookexternalhit/1.1 Facebot Twitterbot/1.0",  # iMessage's preview
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) "
        "Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",
        "Mozilla/5.0 (compatible; Applebot/0.1; +http://www.apple.com/go/applebot)",
        "Twitterbot/1.0",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Slack-ImgProxy (+https://api.slack.com/robots)",
        "WhatsApp/2.23.20.0 A",
        "TelegramBot (like TwitterBot)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    ],
)
def test_link_previews_are_redirected_but_never_counted(text_in, sms_outbox, click, agent):
    link_plan()
    text_in(PHONE, "spring")
    (code,) = codes(sms_outbox[0].body)

    response = click(code, agent=agent)

    assert response.status_code == 302 and response["Location"].startswith("https://shop.example.com/")
    assert TrackedLink.objects.get(code=code).clicks == 0
    assert Enrollment.objects.get().step_id == "wait"
    assert not Interaction.objects.filter(channel="api").exists()


def test_head_is_redirected_but_never_counted(text_in, sms_outbox, click):
    link_plan()
    text_in(PHONE, "spring")
    (code,) = codes(sms_outbox[0].body)
    assert click(code, method="head").status_code == 302
    assert TrackedLink.objects.get(code=code).clicks == 0
    assert Enrollment.objects.get().step_id == "wait"


@pytest.mark.parametrize("code", ["nope", "A" * 12, "x" * 500, "%00", "..%2F..%2Fetc"])
def test_an_unknown_code_is_404(click, code):
    assert click(code).status_code == 404


def test_a_link_only_takes_other_methods_as_405(client, text_in, sms_outbox):
    link_plan()
    text_in(PHONE, "spring")
    (code,) = codes(sms_outbox[0].body)
    assert client.post(f"/l/{code}").status_code == 405
    assert TrackedLink.objects.get(code=code).clicks == 0


def test_a_click_moves_only_the_journey_that_sent_the_link(text_in, sms_outbox, click):
    link_plan()
    plan_make(
        entry={"trigger": "keyword", "keywords": ["NEWS"]},
        interrupts_other_plans=False,
        steps=[
            send("news", "News: https://blog.example.com/news", "wait"),
            {"id": "wait", "type": "wait_event", "event": "link_click", "next": "read"},
            send("read", "Thanks for reading."),
        ],
    )  # fmt: skip
    text_in(PHONE, "spring")
    text_in(PHONE, "news")
    news = next(m.body for m in sms_outbox if m.body.startswith("News"))

    click(codes(news)[0])

    steps = dict(Enrollment.objects.values_list("plan__slug", "step_id"))
    statuses = sorted(Enrollment.objects.values_list("status", flat=True))
    assert sorted(steps.values()) == ["read", "wait"]  # the news journey went on; the sale one waits
    assert statuses == ["active", "completed"]


def test_the_messages_api_lists_each_message_s_links_and_clicks(text_in, sms_outbox, click, client):
    link_plan()
    text_in(PHONE, "spring")
    (code,) = codes(sms_outbox[0].body)
    click(code)
    click(code)

    reader = api_user("reader", "contacts.view_contact")
    contact = Contact.objects.get(phone=PHONE)
    results = client.get(f"/api/contacts/{contact.pk}/messages/", **token_auth(reader)).json()["results"]
    outbound = [m for m in results if m["direction"] == "outbound"]
    assert outbound[0]["links"] == [
        {
            "url": "https://shop.example.com/spring?utm=sms",
            "short_url": f"{TEST_PUBLIC_BASE_URL}/l/{code}",
            "clicks": 2,
        }
    ]
    assert outbound[1]["links"] == []
    clicked = [m for m in results if m["channel"] == "api"]
    assert [(m["direction"], m["body"]) for m in clicked] == [("inbound", "link_click")]


def test_the_loop_guard_sees_through_tracked_links(text_in, sms_outbox, settings):
    """A plan answering an auto-responder with a link must still be stopped: each message's
    codes differ, the text as written does not."""
    settings.SMS_LOOP_GUARD_MAX = 2
    plan_make(
        entry={"trigger": "any"},
        steps=[ask("ask", "Hi", other={"text": "See https://shop.example.com/faq", "repeat": 100})],
    )
    text_in(PHONE, "hello")
    for i in range(4):
        text_in(PHONE, f"auto-reply {i}")
    faq = [m.body for m in sms_outbox if m.body.startswith("See ")]
    assert len(faq) == 2 and len(set(faq)) == 2


# --- the text, shortened (pure) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "urls", "shape"),
    [
        ("Go https://a.example/x.", ["https://a.example/x"], "Go <1>."),
        ("(see https://a.example/x)", ["https://a.example/x"], "(see <1>)"),
        (
            "https://en.wikipedia.org/wiki/Foo_(bar) now",
            ["https://en.wikipedia.org/wiki/Foo_(bar)"],
            "<1> now",
        ),
        ("a https://a.example/x and https://a.example/x", ["https://a.example/x"], "a <1> and <1>"),
        ("HTTP://A.EXAMPLE/Y?q=1&r=2!", ["HTTP://A.EXAMPLE/Y?q=1&r=2"], "<1>!"),
        ("mail me: ann@example.com, www.example.com", [], "mail me: ann@example.com, www.example.com"),
        ("ours: https://sms.example.com/l/abcdefghijkl", [], "ours: https://sms.example.com/l/abcdefghijkl"),
        ("just https:// and http://", [], "just https:// and http://"),
        ("«https://a.example/é»", ["https://a.example/é»"], "«<1>"),
    ],
)
def test_links_shorten_finds_a_text_s_urls_and_leaves_the_punctuation_around_them(text, urls, shape):
    plan = links_shorten(body=text, base_url="https://sms.example.com/")
    assert [url for _, url in plan.links] == urls
    numbered = plan.body
    for n, (code, _) in enumerate(plan.links, 1):
        numbered = numbered.replace(f"https://sms.example.com/l/{code}", f"<{n}>")
    assert numbered == shape


def test_at_most_ten_links_a_message_and_no_time_spent_on_a_huge_text():
    text = " ".join(f"https://a.example/{i}" for i in range(12))
    plan = links_shorten(body=text, base_url="https://sms.example.com")
    assert len(plan.links) == 10 and plan.body.endswith("https://a.example/10 https://a.example/11")
    huge = links_shorten(body="https://" + "a" * 100_000 + " x" * 50_000, base_url="https://sms.example.com")
    assert huge.links == ()  # longer than a URL may be: left as written


def test_the_report_counts_links_sent_clicked_and_clicks(text_in, sms_outbox, click, admin_client):
    from automation.cockpit.reports import plan_report

    plan = link_plan()
    for i in range(4):
        text_in(f"+1415555{4000 + i}", "spring")
    sent = [codes(m.body)[0] for m in sms_outbox]
    click(sent[0])
    click(sent[0])
    click(sent[1])
    click(sent[2], agent="facebookexternalhit/1.1")

    (row,) = plan_report(plan=plan).links
    assert (row.url, row.sent, row.clicked, row.clicks, row.rate) == (
        "https://shop.example.com/spring?utm=sms",
        4,
        2,
        3,
        50.0,
    )
    page = admin_client.get(f"/admin/automation/plan/{plan.pk}/report/").content.decode()
    table = page.split('id="report-links"')[1].split("</table>")[0]
    assert "https://shop.example.com/spring?utm=sms" in table and '<td class="num">50.0%</td>' in table


def test_a_marketer_sees_the_links_and_their_clicks_in_the_admin(text_in, sms_outbox, click, marketer_client):
    link_plan()
    text_in(PHONE, "spring")
    (code,) = codes(sms_outbox[0].body)
    click(code)

    page = marketer_client.get("/admin/tracking/trackedlink/")
    assert page.status_code == 200
    html = page.content.decode()
    assert code in html and "https://shop.example.com/spring?utm=sms" in html
    link = TrackedLink.objects.get(code=code)
    detail = marketer_client.get(f"/admin/tracking/trackedlink/{link.pk}/change/")
    assert detail.status_code == 200 and "Save" not in detail.content.decode().split('id="content-main"')[1]


def test_waiting_for_a_click_in_a_plan_that_does_not_track_links_is_a_warning(admin_client):
    plan = link_plan(
        track_links=False, goals=[{"slug": "clicked", "name": "Clicked", "points": 1, "event": "link_click"}]
    )
    page = admin_client.get(f"/admin/automation/plan/{plan.pk}/change/").content.decode()
    box = page.split('id="plan-warnings"')[1].split("</div>")[0]
    assert "“wait”, event: waits for a click on a link, but this plan does not track its links" in box
    assert "is reached by a click on a link, but this plan does not track its links" in box

    tracked = link_plan()
    page = admin_client.get(f"/admin/automation/plan/{tracked.pk}/change/").content.decode()
    assert "does not track its links" not in page


def test_the_contact_s_timeline_says_where_each_link_leads_and_if_it_was_opened(
    text_in, sms_outbox, click, admin_client
):
    link_plan()
    text_in(PHONE, "spring")
    (code,) = codes(sms_outbox[0].body)
    contact = Contact.objects.get(phone=PHONE)
    page = admin_client.get(f"/admin/contacts/contact/{contact.pk}/change/").content.decode()
    assert "https://shop.example.com/spring?utm=sms not opened" in page

    click(code)
    click(code)
    page = admin_client.get(f"/admin/contacts/contact/{contact.pk}/change/").content.decode()
    assert "https://shop.example.com/spring?utm=sms opened 2 times" in page
    assert "Event: link_click" in page


def test_the_a_b_report_compares_how_often_each_branch_s_link_was_opened(
    text_in, sms_outbox, click, admin_client
):
    from automation.cockpit.reports import plan_report

    plan = plan_make(
        entry={"trigger": "keyword", "keywords": ["SPRING"]},
        steps=[
            {"id": "ab", "type": "split_random", "name": "Offer A/B",
             "branches": [{"name": "A", "weight": 50, "next": "a"},
                          {"name": "B", "weight": 50, "next": "b"}]},
            send("a", "20% off: https://shop.example.com/a"),
            send("b", "Free shipping: https://shop.example.com/b"),
        ],
    )  # fmt: skip
    opened = {"A": 0, "B": 0}
    for i in range(10):
        phone = f"+1415555{5000 + i}"
        text_in(phone, "spring")
        branch = Enrollment.objects.get(contact__phone=phone).branches["ab"]
        if branch == "A" or i % 3 == 0:  # every A, a third of B
            click(codes(sms_outbox[-1].body)[0])
            opened[branch] += 1

    (split,) = plan_report(plan=plan).splits
    assert split.goal_names == ["Opened a link"]
    assert {b.name: b.goals[0][1] for b in split.branches} == opened
    page = admin_client.get(f"/admin/automation/plan/{plan.pk}/report/").content.decode()
    assert "<th>Opened a link</th>" in page.split('id="report-split-ab"')[1]
