"""Senders in use (docs/reference.md §3, §8), driven as Twilio and a marketer drive them: the
signed webhook, the events API, the admin's bulk enrollment; Twilio's REST API faked at the
HTTP layer, so what is checked is what Twilio would be asked (``From``, ``To``,
``MessagingServiceSid``).

- The address a contact writes to (``To``) is recorded, and becomes a sender when it is
  none yet (no limit).
- Every text of a journey goes from the sender the contact last wrote to in it.
- A plan bound to a sender (``entry.sender``) is entered only by messages to it, and a
  journey the contact did not start by writing goes from it (else the default).
- HELP, opt-out and opt-in answers go back from the address the contact wrote to."""

import pytest

from automation.tests.factories import ask, plan_make, send, the_enrollment
from conftest import api_user, command, contact_messages, token_auth
from contacts.models import Contact
from messaging.models import Sender
from messaging.tests.conftest import accept_all, form
from tracking.models import Interaction

pytestmark = pytest.mark.django_db

PHONE = "+12125550123"
DEFAULT = "+14155550100"  # TWILIO_FROM_NUMBER in the test settings
SUPPORT = "+14155550177"
CAMPAIGN = "+14155550188"


@pytest.fixture
def rest(twilio_api):
    """Twilio's REST API accepting every message: ``rest.sent()`` → what each call posted."""
    accept_all(twilio_api)
    twilio_api.sent = lambda: [form(call) for call in twilio_api.calls]
    return twilio_api


def froms(rest) -> list[tuple[str, str]]:
    """(From, Body) of every message handed to Twilio, in order."""
    return [(f.get("From") or f.get("MessagingServiceSid", ""), f.get("Body", "")) for f in rest.sent()]


def messages(client, phone: str = PHONE) -> list[dict]:
    return contact_messages(client, phone)


def two_questions(**top):
    """Catch-all: asks for NEXT, then for MORE, then thanks."""
    return plan_make(
        steps=[
            ask("first", "Hi! Reply NEXT.", [("NEXT", "second")]),
            ask("second", "Now reply MORE.", [("MORE", "done")]),
            send("done", "Thanks!"),
        ],
        **top,
    )


def test_an_unknown_to_becomes_a_sender_with_no_limit_and_answers_from_it(client, rest, text_in):
    two_questions()
    text_in(PHONE, "hello", To=SUPPORT)
    text_in("+12125550124", "hello", To="12345")  # a short code
    assert list(Sender.objects.values_list("address", "kind", "mps").order_by("address")) == [
        ("+14155550177", "number", None),
        ("12345", "short_code", None),
    ]
    assert froms(rest) == [(SUPPORT, "Hi! Reply NEXT."), ("12345", "Hi! Reply NEXT.")]
    inbound, outbound = messages(client)
    assert (inbound["from"], inbound["to"], inbound["channel"]) == (PHONE, SUPPORT, "sms")
    assert (outbound["from"], outbound["to"], outbound["channel"]) == (SUPPORT, PHONE, "sms")


def test_a_known_sender_keeps_its_settings_and_is_not_made_twice(rest, text_in, twilio):
    command("sender_set", SUPPORT, "--mps", "3", "--name", "Support")
    two_questions()
    text_in(PHONE, "hello", To=SUPPORT)
    text_in(PHONE, "next", To=SUPPORT)
    assert list(Sender.objects.values_list("address", "mps", "name")) == [(SUPPORT, 3, "Support")]
    # A To that is no sender's address is recorded as written, and no sender is made of it.
    text_in("+12125550125", "hello", To="not-a-number")
    assert Interaction.objects.filter(to_address="not-a-number").exists()
    assert Sender.objects.count() == 1


def test_the_journey_goes_on_from_the_number_the_contact_last_wrote_to(rest, text_in):
    two_questions()
    text_in(PHONE, "hello", To=SUPPORT)
    text_in(PHONE, "next", To=CAMPAIGN)  # the contact writes to a second number mid-journey
    text_in(PHONE, "what?", To=CAMPAIGN)  # an unmatched reply: stays
    text_in(PHONE, "more", To=SUPPORT)
    assert froms(rest) == [
        (SUPPORT, "Hi! Reply NEXT."),
        (CAMPAIGN, "Now reply MORE."),
        (SUPPORT, "Thanks!"),
    ]
    assert the_enrollment(PHONE).sender.address == SUPPORT


def test_a_reply_no_step_takes_does_not_move_the_journey_s_sender(rest, text_in, timers):
    from datetime import timedelta

    from django.utils import timezone

    plan_make(
        steps=[
            ask("first", "Hi! Reply NEXT.", [("NEXT", "done")], timeout={"after": "PT1H", "next": "remind"}),
            send("remind", "Still there?"),
            send("done", "Thanks!"),
        ],
        entry={"trigger": "keyword", "keywords": ["HELLO"]},
    )
    text_in(PHONE, "hello", To=SUPPORT)
    text_in(PHONE, "whatever", To=CAMPAIGN)  # no rule, no other answer, no plan: nobody answers
    assert the_enrollment(PHONE).sender.address == SUPPORT
    assert timers(timezone.now() + timedelta(hours=2)) == 1
    assert froms(rest) == [(SUPPORT, "Hi! Reply NEXT."), (SUPPORT, "Still there?")]


def test_a_plan_entered_by_enter_plan_goes_on_from_the_journey_s_sender(rest, text_in, timers):
    from datetime import timedelta

    from django.utils import timezone

    plan_make(slug="follow-up", entry={"trigger": "none"}, steps=[ask("again", "Back again?")])
    plan_make(
        entry={"trigger": "keyword", "keywords": ["HELLO"]},
        steps=[
            ask("first", "Hi! Reply NEXT.", timeout={"after": "PT1H", "next": "onward"}),
            {"id": "onward", "type": "enter_plan", "plan": "follow-up"},
        ],
    )
    text_in(PHONE, "hello", To=SUPPORT)
    assert timers(timezone.now() + timedelta(hours=2)) == 1  # a timer, not the contact, enters it
    assert froms(rest) == [(SUPPORT, "Hi! Reply NEXT."), (SUPPORT, "Back again?")]


def test_help_stop_and_start_are_answered_from_the_number_written_to(rest, text_in, settings):
    settings.SMS_HELP_TEXT = "Acme: help at acme.example. Reply STOP to opt out."
    settings.SMS_OPT_OUT_CONFIRMATION = "You are unsubscribed."
    settings.SMS_OPT_IN_CONFIRMATION = "You are back in."
    text_in(PHONE, "help", To=SUPPORT)
    text_in(PHONE, "stop", To=CAMPAIGN)
    text_in(PHONE, "start", To="12345")
    assert froms(rest) == [
        (SUPPORT, settings.SMS_HELP_TEXT),
        (CAMPAIGN, "You are unsubscribed."),
        ("12345", "You are back in."),
    ]


# --- a plan bound to a sender ---------------------------------------------------------------


def test_a_bound_plan_is_entered_only_by_messages_to_its_sender(rest, text_in):
    plan_make(
        entry={"trigger": "keyword", "keywords": ["JOIN"], "sender": CAMPAIGN},
        steps=[ask("welcome", "Welcome to the club! Reply STYLE.")],
    )
    plan_make(entry={"trigger": "any", "sender": SUPPORT}, steps=[ask("support", "Support here.")])
    text_in(PHONE, "join", To=DEFAULT)  # another number: neither plan
    assert not Contact.objects.get(phone=PHONE).enrollments.exists()
    text_in(PHONE, "join", To=CAMPAIGN)
    text_in("+12125550124", "hello", To=CAMPAIGN)  # the catch-all listens on SUPPORT only
    text_in("+12125550125", "hello", To=SUPPORT)
    assert froms(rest) == [(CAMPAIGN, "Welcome to the club! Reply STYLE."), (SUPPORT, "Support here.")]
    assert not Contact.objects.get(phone="+12125550124").enrollments.exists()


def test_an_event_enrollment_texts_from_the_plan_s_sender_until_the_contact_writes(
    client, rest, text_in, django_capture_on_commit_callbacks
):
    plan_make(
        entry={"trigger": "event", "event": "signup", "sender": CAMPAIGN},
        steps=[ask("hello", "Thanks for signing up! Reply NEXT.", [("NEXT", "done")]), send("done", "Done.")],
    )
    assert Sender.objects.filter(address=CAMPAIGN).exists()  # a bound plan's sender is one once published
    shop = token_auth(api_user("shop", "tracking.add_interaction"))
    body = {"event_id": "su-1", "phone": PHONE, "type": "signup", "opt_in": True}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/api/events/", body, content_type="application/json", **shop).status_code == 201
    text_in(PHONE, "next", To=SUPPORT)
    assert froms(rest) == [(CAMPAIGN, "Thanks for signing up! Reply NEXT."), (SUPPORT, "Done.")]


def test_a_bulk_enrollment_texts_from_the_plan_s_sender_else_the_default(
    admin_client, rest, settings, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    bound = plan_make(entry={"trigger": "none", "sender": CAMPAIGN}, steps=[ask("sale", "Spring sale!")])
    unbound = plan_make(entry={"trigger": "none"}, steps=[ask("news", "Our news.")])
    contact = Contact.objects.create(phone=PHONE, consent_at=timezone.now())
    for plan in (bound, unbound):
        data = {"action": "enroll_in_plan", "_selected_action": [contact.pk], "plan": plan.pk, "apply": "1"}
        with django_capture_on_commit_callbacks(execute=True):
            assert admin_client.post("/admin/contacts/contact/", data).status_code == 302
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "0" * 32  # the default is the Messaging Service now
    third = plan_make(entry={"trigger": "none"}, steps=[ask("more", "More news.")])
    data = {"action": "enroll_in_plan", "_selected_action": [contact.pk], "plan": third.pk, "apply": "1"}
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/admin/contacts/contact/", data)
    assert froms(rest) == [
        (CAMPAIGN, "Spring sale!"),
        (DEFAULT, "Our news."),
        ("MG" + "0" * 32, "More news."),
    ]
