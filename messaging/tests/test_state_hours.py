"""Sending hours by US state (docs/reference.md §2 SMS_STATE_HOURS): on top of SMS_QUIET_HOURS, the
recipient's state adds its stricter window and day rules; held messages go at the next
allowed minute in the recipient's zone. Frozen time, across DST and state borders."""

from datetime import UTC, datetime

import pytest
import time_machine

from contacts.tests.factories import ContactFactory
from messaging.models import DeliveryStatus, OutboundMessage
from messaging.services.outbound import outbound_queue, outbound_send_time
from messaging.services.policy import contact_state
from messaging.state_hours import RULES, state_hours_release_at, state_of


def django_user(pk):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(pk=pk)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_every_rule_names_its_source_and_each_state_its_code():
    for code, rule in RULES.items():
        assert rule.state == code and " a.m. to " in rule.source  # the statute, then what it says
    assert (state_of("Florida"), state_of("New York, NY"), state_of("Washington State")) == ("FL", "NY", "WA")
    assert state_of("Ontario") is None and state_of("") is None


NY, CHI, LA_ZONE = "America/New_York", "America/Chicago", "America/Los_Angeles"


@pytest.mark.parametrize(
    ("state", "zone", "now", "release"),
    [
        # Florida, 8 a.m. to 8 p.m. (Monday 6 May 2030, EDT = UTC-4).
        ("FL", NY, utc(2030, 5, 6, 23, 30), None),  # 19:30: allowed
        ("FL", NY, utc(2030, 5, 7, 0, 30), utc(2030, 5, 7, 12, 0)),  # 20:30 → 08:00 next day
        ("FL", NY, utc(2030, 5, 6, 11, 0), utc(2030, 5, 6, 12, 0)),  # 07:00 → 08:00
        # Connecticut starts at 9.
        ("CT", NY, utc(2030, 5, 6, 12, 30), utc(2030, 5, 6, 13, 0)),  # 08:30 → 09:00
        # Texas: Sundays from noon (CDT = UTC-5); Saturday night waits for Sunday noon.
        ("TX", CHI, utc(2030, 5, 12, 15, 0), utc(2030, 5, 12, 17, 0)),  # Sun 10:00 → 12:00
        ("TX", CHI, utc(2030, 5, 12, 2, 30), utc(2030, 5, 12, 17, 0)),  # Sat 21:30 → Sun 12:00
        ("TX", CHI, utc(2030, 5, 12, 18, 0), None),  # Sun 13:00: allowed
        # Louisiana: never on Sundays, nor on its holidays (Mardi Gras, 5 March 2030, CST).
        ("LA", CHI, utc(2030, 5, 12, 1, 30), utc(2030, 5, 13, 13, 0)),  # Sat 20:30 → Mon 08:00
        ("LA", CHI, utc(2030, 3, 5, 16, 0), utc(2030, 3, 6, 14, 0)),  # Mardi Gras 10:00 → Wed 08:00
        # Daylight saving time starts (10 March 2030): 08:00 on Sunday is EDT, 12:00 UTC.
        ("FL", NY, utc(2030, 3, 10, 2, 0), utc(2030, 3, 10, 12, 0)),  # Sat 21:00 EST
        # … and ends (3 November 2030): 08:00 on Sunday is EST, 13:00 UTC.
        ("FL", NY, utc(2030, 11, 3, 1, 0), utc(2030, 11, 3, 13, 0)),  # Sat 21:00 EDT
        # Washington, 8 p.m. (PDT = UTC-7); Oregon sets nothing of its own.
        ("WA", LA_ZONE, utc(2030, 5, 7, 3, 30), utc(2030, 5, 7, 15, 0)),  # 20:30 → 08:00
        ("OR", LA_ZONE, utc(2030, 5, 7, 3, 30), None),
        (None, NY, utc(2030, 5, 7, 3, 30), None),
    ],
)
def test_the_next_allowed_minute_in_the_recipient_s_state_and_zone(state, zone, now, release):
    assert state_hours_release_at(now=now, tz_name=zone, state=state) == release


@pytest.mark.django_db
def test_the_state_is_the_contact_s_own_else_the_area_code_s():
    assert contact_state(ContactFactory(phone="+13055550100")) == "FL"  # Miami's area code
    assert contact_state(ContactFactory(phone="+14255550100")) == "WA"
    assert contact_state(ContactFactory(phone="+13055550101", attributes={"state": "ga"})) == "GA"  # moved
    assert contact_state(ContactFactory(phone="+12125550100", attributes={"state": "Texas?"})) == "NY"
    assert contact_state(ContactFactory(phone="+447700900123")) is None


@pytest.mark.django_db
def test_a_marketing_text_to_texas_on_sunday_morning_is_held_until_noon(settings, sms_outbox):
    settings.SMS_QUIET_HOURS = "21:00-08:00"
    contact = ContactFactory(phone="+12145550100", timezone="America/Chicago")  # Dallas
    with time_machine.travel(utc(2030, 5, 12, 15, 0), tick=False):  # Sunday 10:00 CDT
        at, reason = outbound_send_time(contact=contact, now=utc(2030, 5, 12, 15, 0))
        outbound_queue(contact=contact, body="Sunday deals", purpose="prompt", answers_contact=False)
    assert at == utc(2030, 5, 12, 17, 0)
    assert reason.startswith("Texas's sending hours (Tex. Bus. & Com. Code § 301.051")
    held = OutboundMessage.objects.get()
    assert (held.status, held.send_after) == (DeliveryStatus.HELD, utc(2030, 5, 12, 17, 0))
    settings.SMS_STATE_HOURS = False
    assert outbound_send_time(contact=contact, now=utc(2030, 5, 12, 15, 0)) == (utc(2030, 5, 12, 15, 0), "")


@pytest.mark.django_db
def test_quiet_hours_and_the_state_s_hours_both_hold(settings):
    settings.SMS_QUIET_HOURS = "20:00-08:30"
    contact = ContactFactory(phone="+12035550100")  # Connecticut, its zone from the number
    at, reason = outbound_send_time(contact=contact, now=utc(2030, 5, 6, 12, 0))  # Mon 08:00 EDT
    assert at == utc(2030, 5, 6, 13, 0)  # 09:00: after quiet hours (08:30) and CT's start (09:00)
    assert "quiet hours (20:00-08:30" in reason and "Connecticut's sending hours" in reason


@pytest.mark.django_db
def test_a_reply_to_the_contact_is_never_held(settings, sms_outbox):
    contact = ContactFactory(phone="+12145550100")
    with time_machine.travel(utc(2030, 5, 12, 15, 0), tick=False):
        outbound = outbound_queue(contact=contact, body="Thanks!", purpose="reply", answers_contact=True)
    assert outbound.status != DeliveryStatus.HELD


@pytest.mark.django_db
def test_the_text_preview_says_when_a_marketing_text_would_be_held(marketer_client, settings):
    settings.SMS_QUIET_HOURS = "21:00-08:00"
    user = marketer_client.session.get("_auth_user_id")
    with time_machine.travel(utc(2030, 5, 12, 15, 0), tick=False):  # Sunday 11:00 in New York
        marketer_client.force_login(django_user(user))  # a session of that day
        plain = marketer_client.post("/admin/preview-text/", {"body": "Deals!"}).json()
        texas = marketer_client.post("/admin/preview-text/", {"body": "Deals!", "state": "tx"}).json()
    assert plain["hold"] == {"held": False}
    assert texas["hold"]["held"] is True
    assert texas["hold"]["until"] == "Sun 12 May 12:00 (America/Chicago)"
    assert texas["hold"]["because"].startswith("Texas's sending hours")


@pytest.mark.django_db
def test_the_simulator_shows_a_held_message_and_until_when(
    admin_client, admin_user, settings, django_capture_on_commit_callbacks
):
    from automation.models import Plan
    from automation.tests.factories import ask, plan_make

    settings.SMS_QUIET_HOURS = "20:00-09:00"
    plan = plan_make(
        status=Plan.Status.ACTIVE,
        steps=[ask("q", "Rate us 1-5", [({"match": "number"}, "later")]),
               {"id": "later", "type": "delay", "for": "PT1H", "next": "offer"},
               ask("offer", "Here is your offer!")],
    )  # fmt: skip
    url = f"/admin/automation/plan/{plan.pk}/try/"
    with time_machine.travel(utc(2030, 5, 7, 1, 30), tick=False):  # 21:30 in Washington, D.C.
        admin_client.force_login(admin_user)  # a session of that day
        with django_capture_on_commit_callbacks(execute=True):
            admin_client.post(url, {"text": "hi"})  # answers the contact: goes at once
            admin_client.post(url, {"text": "5"})
            admin_client.post(url, {"fast_forward": "1"})  # the offer does not answer them
        page = admin_client.get(url).content.decode()
    assert "Here is your offer!" in page
    held = (
        "held until 2030-05-07 09:00 (America/New_York): quiet hours (20:00-09:00, the contact&#x27;s time)"
    )
    assert held in page
