"""``POST /api/events/`` (docs/reference.md §7) through the test client with real token auth: an
event is kept on the contact's timeline, moves enrollments waiting for it, converts the
goals on it (with its value: the plan's revenue), enters the plans it starts — only with
marketing consent (§5) — and a repeat of it changes nothing."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from automation.models import Enrollment
from automation.tests.factories import ask, plan_make, send, the_enrollment
from conftest import api_user, bodies, token_auth
from contacts.models import ConsentEvent, Contact
from contacts.tests.factories import ContactFactory
from messaging.models import DeliveryStatus, OutboundMessage
from tracking.models import GoalConversion, Interaction

pytestmark = pytest.mark.django_db

PHONE = "+14155550123"
T0 = datetime(2030, 3, 4, 15, 0, tzinfo=UTC)  # 07:00 in San Francisco, 10:00 in New York


@pytest.fixture
def shop(db):
    """The shop's integration user: it may add interactions (events), nothing else."""
    return api_user("shop", "tracking.add_interaction")


_ids = iter(range(1, 10**9))


@pytest.fixture
def event(client, shop, django_capture_on_commit_callbacks):
    """POST one event as the shop: ``event(type, **fields)``; on-commit work (sends) runs."""

    def post(type_="purchase", *, raw=None, **fields):
        body = (
            raw
            if raw is not None
            else json.dumps({"event_id": f"ev-{next(_ids)}", "phone": PHONE, "type": type_, **fields})
        )
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/api/events/", data=body, content_type="application/json", **token_auth(shop))

    return post


def consented(phone=PHONE) -> Contact:
    contact = ContactFactory(phone=phone)
    Contact.objects.filter(pk=contact.pk).update(consent_at=T0 - timedelta(days=30))
    return contact


# --- the door ------------------------------------------------------------------------------------


def test_an_event_is_kept_on_a_new_contact_s_timeline(event, client):
    response = event("purchase", event_id="order-1001", value=49.9, data={"order": "1001", "items": 2})

    assert response.status_code == 201, response.content
    contact = Contact.objects.get(phone=PHONE)
    stored = Interaction.objects.get(event_id="order-1001")
    assert response.json() == {"id": stored.pk, "contact": contact.pk, "duplicate": False, "enrolled": []}
    assert (stored.channel, stored.direction, stored.body, stored.value) == (
        "api",
        "inbound",
        "purchase",
        Decimal("49.90"),
    )
    assert stored.routed_at is not None  # acted on now; never handed to the text router

    reader = api_user("reader", "contacts.view_contact")
    messages = client.get(f"/api/contacts/{contact.pk}/messages/", **token_auth(reader)).json()["results"]
    assert [(m["direction"], m["channel"], m["body"], m["sid"], m["from"]) for m in messages] == [
        ("inbound", "api", "purchase", "order-1001", PHONE)
    ]


def test_occurred_at_places_the_event_in_the_contact_s_history(event):
    event("purchase", event_id="late", occurred_at="2025-01-02T03:04:05Z")
    assert Interaction.objects.get(event_id="late").created_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_the_same_event_again_is_a_duplicate_and_changes_nothing(event):
    plan_make(
        entry={"trigger": "event", "event": "purchase"},
        steps=[send("thanks", "Thanks!")],
        goals=[{"slug": "bought", "name": "Bought", "points": 5, "event": "purchase"}],
    )
    consented()
    first = event("purchase", event_id="order-7", value=10)
    assert first.status_code == 201 and first.json()["enrolled"]
    counts = (Interaction.objects.count(), Enrollment.objects.count(), GoalConversion.objects.count())

    again = event("purchase", event_id="order-7", value=10)

    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True, "enrolled": []}
    assert (Interaction.objects.count(), Enrollment.objects.count(), GoalConversion.objects.count()) == counts


def test_no_token_is_401_and_without_the_permission_403(client):
    body = json.dumps({"event_id": "x", "phone": PHONE, "type": "purchase"})
    assert client.post("/api/events/", body, content_type="application/json").status_code == 401
    bad = client.post("/api/events/", body, content_type="application/json", HTTP_AUTHORIZATION="Token nope")
    assert bad.status_code == 401
    reader = api_user("reader", "contacts.view_contact")
    refused = client.post("/api/events/", body, content_type="application/json", **token_auth(reader))
    assert refused.status_code == 403
    assert not Interaction.objects.exists() and not Contact.objects.exists()


GOOD = {"event_id": "e-1", "phone": PHONE, "type": "purchase"}


def nested(depth: int) -> dict:
    value: dict = {"x": 1}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD, "event_id": ""}, "event_id"),
        ({**GOOD, "event_id": "x" * 101}, "event_id"),
        ({"phone": PHONE, "type": "purchase"}, "event_id"),
        ({**GOOD, "event_id": "a\x00b"}, "event_id"),
        ({**GOOD, "phone": "4155550123"}, "phone"),
        ({**GOOD, "phone": "+1555"}, "phone"),
        ({**GOOD, "phone": "whatsapp:+14155550123"}, "phone"),
        ({"event_id": "e-1", "type": "purchase"}, "phone"),
        ({**GOOD, "type": "Purchase"}, "type"),
        ({**GOOD, "type": "a" * 51}, "type"),
        ({**GOOD, "type": "buy now"}, "type"),
        ({**GOOD, "type": ""}, "type"),
        ({**GOOD, "value": "lots"}, "value"),
        ({**GOOD, "value": 1e20}, "value"),
        ({**GOOD, "value": True}, "value"),
        ({**GOOD, "data": [1, 2]}, "data"),
        ({**GOOD, "data": {"note": "a\x00b"}}, "data"),
        # Text that is no text (PostgreSQL stores neither a NUL nor half of a UTF-16 pair).
        ({**GOOD, "data": {"note": "\ud800"}}, "data"),
        ({**GOOD, "data": {"\udc00": "note"}}, "data"),
        ({**GOOD, "data": {"a\x00": 1}}, "data"),
        ({**GOOD, "data": {"items": [{"sku": "x\udfff"}]}}, "data"),
        ({**GOOD, "event_id": "order-\ud83d"}, "event_id"),
        ({**GOOD, "phone": "+1415555012\ud800"}, "phone"),
        ({**GOOD, "data": nested(21)}, "data"),  # deeper than any event needs
        ({**GOOD, "occurred_at": "yesterday"}, "occurred_at"),
        ({**GOOD, "occurred_at": "2099-01-01T00:00:00Z"}, "occurred_at"),
        ({**GOOD, "opt_in": "maybe"}, "opt_in"),
        ({**GOOD, "optin": True}, "optin"),  # a misspelt opt_in is not silently no consent
    ],
)
def test_bad_fields_are_400_naming_the_field_and_nothing_is_stored(event, body, field):
    response = event(raw=json.dumps(body))
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Interaction.objects.exists() and not Contact.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        "{not json",
        "",
        "[1, 2]",
        '"purchase"',
        '{"event_id": "e", "phone": "+14155550123", "type": "purchase", "value": NaN}',
        '{"event_id": "e", "phone": "+14155550123", "type": "purchase", "data": {"x": Infinity}}',
        '{"event_id": "e", "phone": "+14155550123", "type": "purchase", "data": {"x": -1e400}}',
        '{"event_id": "e", "phone": "+14155550123", "type": "purchase", "\\ud800": 1}',
        "[" * 50_000 + "]" * 50_000,  # deeper than any parser's recursion
        json.dumps({**GOOD, "data": {"blob": "x" * 70_000}}),  # larger than 64 KB
        b"\xff\xfe{}",
    ],
)
def test_bad_json_is_400_with_errors_and_nothing_is_stored(event, raw):
    response = event(raw=raw)
    assert response.status_code == 400
    assert response.json()["errors"]
    assert not Interaction.objects.exists()


def test_a_form_post_is_bad_json_not_a_server_error(client, shop):
    response = client.post(
        "/api/events/", {"event_id": "e", "phone": PHONE, "type": "purchase"}, **token_auth(shop)
    )
    assert response.status_code == 400 and response.json()["errors"]


# --- wait_event ----------------------------------------------------------------------------------


def waiting_plan(**top):
    return plan_make(
        entry={"trigger": "keyword", "keywords": ["SHOP"]},
        steps=[
            send("hello", "Welcome! Buy anything to get 10% off the next.", "wait"),
            {"id": "wait", "type": "wait_event", "event": "purchase", "next": "thanks",
             "timeout": {"after": "P2D", "next": "nudge"}},
            send("thanks", "Thanks for your order, {{ contact.first_name|default:'friend' }}!"),
            send("nudge", "Still thinking about it?"),
        ],
        **top,
    )  # fmt: skip


def test_an_event_moves_the_enrollment_waiting_for_it(event, text_in, sms_outbox):
    waiting_plan()
    text_in(PHONE, "shop")
    assert the_enrollment(PHONE).step_id == "wait"

    assert event("click").status_code == 201  # another type: it waits on
    assert the_enrollment(PHONE).step_id == "wait"
    assert event("purchase").status_code == 201

    enrollment = the_enrollment(PHONE)
    assert (enrollment.status, enrollment.step_id, enrollment.timeout_at) == ("completed", "thanks", None)
    assert bodies(sms_outbox) == [
        "Welcome! Buy anything to get 10% off the next.",
        "Thanks for your order, friend!",
    ]
    via = list(enrollment.steps.filter(step_id="thanks").values_list("via", "interaction__event_id"))
    assert via[0][0] == "event" and via[0][1].startswith("ev-")


def test_what_an_event_sends_is_a_marketing_text_quiet_hours_hold_it(event, text_in, sms_outbox, settings):
    waiting_plan()
    with time_machine.travel(T0, tick=False):  # 07:00 in San Francisco (the number's zone)
        settings.SMS_QUIET_HOURS = ""
        text_in(PHONE, "shop")
        settings.SMS_QUIET_HOURS = "20:00-09:00"
        event("purchase")
    thanks = OutboundMessage.objects.get(interaction__body__startswith="Thanks for your order")
    assert thanks.status == DeliveryStatus.HELD
    assert bodies(sms_outbox) == ["Welcome! Buy anything to get 10% off the next."]


def test_an_event_is_never_routed_as_a_text(event, text_in, sms_outbox):
    """An event whose type is a compliance word is not the contact texting STOP, even when
    the sweeper of unrouted messages runs later."""
    from django.core.management import call_command

    waiting_plan()
    text_in(PHONE, "shop")
    event("stop")
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=10)):
        call_command("route_waiting_messages")
    contact = Contact.objects.get(phone=PHONE)
    assert not contact.opted_out
    assert the_enrollment(PHONE).status == "active"


# --- goals and revenue ---------------------------------------------------------------------------


def test_goals_on_the_event_convert_once_per_enrollment_with_its_value(event, text_in):
    waiting_plan(goals=[{"slug": "purchase", "name": "Purchase", "points": 50, "event": "purchase"}])
    plan_make(steps=[ask("other", "Unrelated")], entry={"trigger": "keyword", "keywords": ["OTHER"]})
    text_in(PHONE, "shop")

    event("purchase", value=49.9)
    event("purchase", value=20)  # the same enrollment: converted already

    conversion = GoalConversion.objects.get()
    assert (conversion.goal.slug, conversion.value, conversion.points) == ("purchase", Decimal("49.90"), 50)
    assert conversion.enrollment == the_enrollment(PHONE)
    assert conversion.interaction.event_id
    assert Contact.objects.get(phone=PHONE).engagement_value == 50


def test_a_goal_on_an_event_needs_an_active_enrollment_in_its_plan(event, text_in):
    waiting_plan(goals=[{"slug": "purchase", "name": "Purchase", "points": 50, "event": "purchase"}])
    event("purchase", value=10)  # not enrolled anywhere
    assert not GoalConversion.objects.exists()


# --- entering plans by event: consent ------------------------------------------------------------


def entry_plan(slug="welcome", **top):
    steps = top.pop("steps", None) or [
        ask(
            "ask",
            "Welcome to Shop! Reply MENU for today's deals. Msg&data rates may apply. Reply STOP to opt out.",
        )
    ]
    return plan_make(slug=slug, entry={"trigger": "event", "event": "signup"}, steps=steps, **top)


def test_an_event_enters_a_plan_only_with_consent_on_record(event, sms_outbox):
    entry_plan()

    response = event("signup")
    assert response.status_code == 201 and response.json()["enrolled"] == []
    assert not Enrollment.objects.exists()
    assert Contact.objects.get(phone=PHONE).consent == "none"
    assert sms_outbox == []


def test_an_event_with_opt_in_is_the_consent_and_enters_the_plan(event, sms_outbox):
    entry_plan()

    response = event("signup", event_id="signup-42", opt_in=True)

    assert response.json()["enrolled"] == ["welcome"]
    contact = Contact.objects.get(phone=PHONE)
    assert contact.consent == "opted_in"
    log = ConsentEvent.objects.get(contact=contact)
    assert (log.kind, log.source, log.detail) == ("consent", "event", "signup signup-42")
    assert the_enrollment(PHONE).step_id == "ask"
    assert len(sms_outbox) == 1


def test_an_event_s_consent_reads_before_the_enrollment_it_allowed(event, sms_outbox):
    """Issue 18: the consent log showed the event's consent 6 ms after the enrollment."""
    entry_plan()

    event("signup", opt_in=True)

    log, enrollment = ConsentEvent.objects.get(), the_enrollment(PHONE)
    assert log.occurred_at <= enrollment.enrolled_at
    assert Contact.objects.get(phone=PHONE).consent_at == log.occurred_at


def test_consent_from_a_keyword_lets_an_event_enter_a_plan(event, text_in, sms_outbox):
    plan_make(entry={"trigger": "keyword", "keywords": ["JOIN"]}, steps=[send("hi", "Joined.")])
    entry_plan()
    text_in(PHONE, "join")

    assert event("signup").json()["enrolled"] == ["welcome"]


def test_an_opted_out_contact_is_never_entered_even_with_opt_in(event, text_in, sms_outbox):
    entry_plan()
    text_in(PHONE, "STOP")

    response = event("signup", opt_in=True)

    assert response.json()["enrolled"] == []
    contact = Contact.objects.get(phone=PHONE)
    assert contact.opted_out and contact.consent == "opted_out"
    assert not Enrollment.objects.exists()
    assert list(contact.consent_events.values_list("kind", flat=True)) == ["opt_out"]


def test_re_entry_by_event_follows_the_plan_s_policy(event):
    consented()
    entry_plan(slug="once", reentry="never", steps=[send("hi", "Welcome once.")])
    entry_plan(slug="each-time", steps=[send("hi", "Welcome again.")])

    assert sorted(event("signup").json()["enrolled"]) == ["each-time", "once"]
    assert event("signup").json()["enrolled"] == ["each-time"]


def test_a_plan_entered_by_event_interrupts_others_as_its_setting_says(event, text_in):
    consented()
    waiting_plan()
    text_in(PHONE, "shop")
    entry_plan(interrupts_other_plans=True)

    event("signup")

    shop = Enrollment.objects.get(contact__phone=PHONE, plan__slug__startswith="plan-")
    assert (shop.status, shop.end_reason) == ("exited", "Interrupted by the event signup entering welcome")
    assert the_enrollment(PHONE, plan__slug="welcome").status == "active"


def test_a_paused_plan_is_not_entered(event):
    from automation.models import Plan

    consented()
    entry_plan(status=Plan.Status.PAUSED)
    assert event("signup").json()["enrolled"] == []


def test_the_contact_s_page_shows_the_event_and_the_goal_s_value(event, text_in, admin_client):
    from django.urls import reverse

    waiting_plan(goals=[{"slug": "purchase", "name": "Purchase", "points": 50, "event": "purchase"}])
    text_in(PHONE, "shop")
    event("purchase", event_id="order-55", value="19.99")

    contact = Contact.objects.get(phone=PHONE)
    page = admin_client.get(reverse("admin:contacts_contact_change", args=[contact.pk])).content.decode()
    assert "Event: purchase" in page
    assert "value 19.99 · order-55" in page
    assert "+50 points · value 19.99" in page


# --- revenue in the report -----------------------------------------------------------------------


def test_the_report_shows_the_revenue_events_brought_per_goal_and_per_branch(event, text_in, admin_client):
    from django.urls import reverse

    from automation.cockpit.reports import plan_report

    plan = plan_make(
        entry={"trigger": "keyword", "keywords": ["SHOP"]},
        steps=[
            {"id": "ab", "type": "split_random", "name": "Offer A/B",
             "branches": [{"name": "A", "weight": 50, "next": "offer-a"},
                          {"name": "B", "weight": 50, "next": "offer-b"}]},
            send("offer-a", "10% off today", "wait"),
            send("offer-b", "Free shipping today", "wait"),
            {"id": "wait", "type": "wait_event", "event": "purchase", "next": "thanks"},
            send("thanks", "Thanks!"),
        ],
        goals=[{"slug": "purchase", "name": "Purchase", "points": 50, "event": "purchase"}],
    )  # fmt: skip
    expected = {"A": Decimal(0), "B": Decimal(0)}
    for i in range(8):
        phone = f"+1415555{2000 + i}"
        text_in(phone, "shop")
        if i % 4 != 3:  # three in four buy
            amount = Decimal("10.50") + i
            event("purchase", phone=phone, value=str(amount))
            expected[Enrollment.objects.get(contact__phone=phone).branches["ab"]] += amount
    event("purchase", phone="+14155552000", value="99")  # a second purchase: converted already

    report = plan_report(plan=plan)
    assert report.revenue == expected["A"] + expected["B"] == Decimal("81.00")
    assert [(g.name, g.conversions, g.revenue) for g in report.goals] == [("Purchase", 6, Decimal("81.00"))]
    assert {b.name: b.revenue or Decimal(0) for b in report.splits[0].branches} == expected

    page = admin_client.get(reverse("admin:automation_plan_report", args=[plan.pk])).content.decode()
    assert '<span class="n" id="report-revenue">81.00</span> revenue' in page
    assert '<td class="num">81.00</td>' in page


def test_a_user_in_the_integrations_group_may_post_events_and_read_contacts(client, django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username="crm")
    user.groups.add(Group.objects.get(name="Integrations"))
    body = json.dumps({"event_id": "crm-1", "phone": PHONE, "type": "signup"})
    auth = token_auth(user)
    assert client.post("/api/events/", body, content_type="application/json", **auth).status_code == 201
    assert client.get("/api/contacts/", {"phone": PHONE}, **auth).json()["results"][0]["phone"] == PHONE
    assert client.get("/admin/", **auth).status_code == 302  # no admin: not staff
