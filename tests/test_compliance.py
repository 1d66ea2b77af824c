"""Compliance keywords (docs/reference.md §5) through the signed webhook, before any plan logic."""

import pytest

from automation.models import Enrollment
from automation.tests.factories import ask, plan_make
from conftest import INVITE, INVITE_FALLBACK, bodies
from contacts.models import ConsentEvent, Contact
from messaging.models import DeliveryStatus, OutboundMessage
from tracking.models import Interaction

pytestmark = pytest.mark.django_db

PHONE = "+12125550123"
HELP = "Acme deals. Reply STOP to opt out."


@pytest.fixture(autouse=True)
def _help_text(settings):
    settings.SMS_HELP_TEXT = HELP


@pytest.mark.parametrize(
    "word",
    ["Stop.", "  stop ", "STOP", "stopall", "Unsubscribe!", "cancel", "END", "quit", "OptOut", "revoke"],
)
def test_opt_out_words_in_any_case_and_punctuation(demo_plan, text_in, sms_outbox, word):
    text_in(PHONE, "hello")
    text_in(PHONE, word)
    contact = Contact.objects.get(phone=PHONE)
    assert contact.opted_out is True
    assert contact.opted_out_at is not None
    event = ConsentEvent.objects.get(contact=contact)
    assert (event.kind, event.source, event.detail) == ("opt_out", "keyword", word.strip(" .!").upper())
    enrollment = Enrollment.objects.get(contact=contact)
    assert enrollment.status == Enrollment.Status.OPTED_OUT
    assert enrollment.ended_at is not None
    assert bodies(sms_outbox, PHONE) == [INVITE]  # no confirmation configured: Twilio sends its own


def test_opted_out_contact_gets_nothing_but_help(demo_plan, text_in, sms_outbox):
    text_in(PHONE, "STOP")
    for body in ("hello", "QUOTE", "BUY", "hi there"):
        text_in(PHONE, body)
    assert bodies(sms_outbox, PHONE) == []
    assert not Enrollment.objects.exists()
    assert Interaction.objects.filter(contact__phone=PHONE, direction="inbound").count() == 5
    text_in(PHONE, "HeLp")
    text_in(PHONE, " info? ")
    assert bodies(sms_outbox, PHONE) == [HELP, HELP]
    assert not Enrollment.objects.exists()


def test_help_is_answered_before_any_plan_logic(demo_plan, text_in, sms_outbox):
    text_in(PHONE, "help")
    assert bodies(sms_outbox, PHONE) == [HELP]
    assert not Enrollment.objects.exists()  # HELP does not enroll
    out = OutboundMessage.objects.get()
    assert (out.purpose, out.answers_contact) == ("help", True)


def test_opt_out_confirmation_is_sent_once(demo_plan, text_in, sms_outbox, settings):
    settings.SMS_OPT_OUT_CONFIRMATION = "You are unsubscribed. Reply START to resubscribe."
    text_in(PHONE, "hello")
    text_in(PHONE, "STOP")
    text_in(PHONE, "stop")
    text_in(PHONE, "QUIT")
    assert bodies(sms_outbox, PHONE) == [INVITE, "You are unsubscribed. Reply START to resubscribe."]
    assert ConsentEvent.objects.filter(kind="opt_out").count() == 1


def test_opt_out_cancels_unsent_messages(demo_plan, text_in, sms_outbox, settings):
    from messaging.services import outbound_queue

    text_in(PHONE, "hello")
    contact = Contact.objects.get(phone=PHONE)
    settings.SMS_QUIET_HOURS = "00:00-23:59"
    held = outbound_queue(contact=contact, body="A reminder", purpose="reminder", answers_contact=False)
    assert held.status == DeliveryStatus.HELD
    text_in(PHONE, "stop")
    held = OutboundMessage.objects.get(pk=held.pk)
    assert held.status == DeliveryStatus.CANCELED


@pytest.mark.parametrize("word", ["START", "yes", "Unstop!"])
def test_opt_in_words_bring_an_opted_out_contact_back_without_resuming(
    demo_plan, text_in, sms_outbox, settings, word
):
    settings.SMS_OPT_IN_CONFIRMATION = "Acme: welcome back. Msg frequency varies. Reply STOP to opt out."
    text_in(PHONE, "hello")
    text_in(PHONE, "STOP")
    text_in(PHONE, word)
    text_in(PHONE, word)  # already in: no second confirmation
    contact = Contact.objects.get(phone=PHONE)
    assert contact.opted_out is False
    assert list(ConsentEvent.objects.values_list("kind", "source")) == [
        ("opt_out", "keyword"),
        ("opt_in", "keyword"),
    ]
    assert list(Enrollment.objects.values_list("status", flat=True)) == ["opted_out", "active"]
    confirmation = "Acme: welcome back. Msg frequency varies. Reply STOP to opt out."
    # The second opt-in word was an ordinary message: the catch-all plan enrolled them anew.
    assert bodies(sms_outbox, PHONE) == [INVITE, confirmation, INVITE]


def test_no_opt_in_confirmation_when_none_is_configured(demo_plan, text_in, sms_outbox, settings):
    settings.SMS_OPT_IN_CONFIRMATION = ""
    text_in(PHONE, "STOP")
    text_in(PHONE, "START")
    assert bodies(sms_outbox, PHONE) == []
    assert Contact.objects.get(phone=PHONE).consent == "opted_in"


def test_opt_in_words_are_ordinary_replies_for_contacts_not_opted_out(text_in, sms_outbox):
    plan_make(steps=[ask("start", "Like deals?", [("YES", "great")]), ask("great", "Great!")])
    text_in(PHONE, "hi")
    text_in(PHONE, "Yes!")
    assert bodies(sms_outbox, PHONE) == ["Like deals?", "Great!"]
    # No opt-in happened (they were never out), but the word is their marketing consent.
    event = ConsentEvent.objects.get()
    assert (event.kind, event.source, event.rule, event.text) == (
        "consent",
        "keyword",
        "opt-in word YES",
        "Yes!",
    )
    assert Contact.objects.get(phone=PHONE).consent == "opted_in"


def test_compliance_words_must_be_the_whole_message(demo_plan, text_in, sms_outbox):
    # (A message that asks to stop in other words, "please stop sending", opts out: below.)
    text_in(PHONE, "hello")
    text_in(PHONE, "can we stop at noon?")
    contact = Contact.objects.get(phone=PHONE)
    assert contact.opted_out is False
    assert bodies(sms_outbox, PHONE) == [INVITE, INVITE_FALLBACK]


def test_plan_keyword_after_opt_out_does_nothing(text_in, sms_outbox):
    plan = plan_make(entry={"trigger": "keyword", "keywords": ["DEAL"]}, steps=[ask("start", "Deal!")])
    assert plan.status == "active"
    text_in(PHONE, "STOP")
    text_in(PHONE, "deal")
    assert bodies(sms_outbox, PHONE) == []
    assert not Enrollment.objects.exists()


@pytest.mark.parametrize("word", ["«STOP»", "STOP。", "「stop」", "STOP‼", "¡stop!", "🛑 stop 🛑"])
def test_opt_out_words_wrapped_in_any_script_s_punctuation_and_symbols(demo_plan, text_in, sms_outbox, word):
    text_in(PHONE, "hello")
    text_in(PHONE, word)
    contact = Contact.objects.get(phone=PHONE)
    assert contact.opted_out is True
    assert ConsentEvent.objects.get(contact=contact).detail == "STOP"


@pytest.mark.parametrize(
    ("body", "opt_out_type"),
    [("ARRET", "STOP"), ("DETENER", "STOP"), ("stopp", "STOP")],
)
def test_twilio_opt_out_type_stop_opts_out_whatever_the_language(
    demo_plan, text_in, sms_outbox, body, opt_out_type
):
    text_in(PHONE, "hello")
    text_in(PHONE, body, OptOutType=opt_out_type)
    contact = Contact.objects.get(phone=PHONE)
    assert contact.opted_out is True
    event = ConsentEvent.objects.get(contact=contact)
    assert event.detail == f"{body.upper()} (OptOutType {opt_out_type})"
    assert Enrollment.objects.get(contact=contact).status == Enrollment.Status.OPTED_OUT


def test_twilio_opt_out_type_start_and_help(demo_plan, text_in, sms_outbox):
    text_in(PHONE, "ARRET", OptOutType="STOP")
    text_in(PHONE, "AIDE", OptOutType="HELP")
    assert bodies(sms_outbox, PHONE) == [HELP]
    text_in(PHONE, "DEMARRER", OptOutType="START")
    contact = Contact.objects.get(phone=PHONE)
    assert contact.opted_out is False
    assert [e.kind for e in ConsentEvent.objects.filter(contact=contact)] == ["opt_out", "opt_in"]


def test_a_stop_that_arrives_while_a_message_is_being_sent(twilio_api, text_in, demo_plan):
    """The invitation is in flight (claimed, the REST call open) when the contact's STOP
    comes in: it has left, so it is recorded as Twilio answered; the opt-out ends the
    enrollment and nothing is sent to them afterwards."""
    import json

    import responses

    from automation.engine import enrollment_timeouts_fire
    from messaging.tests.conftest import messages_url

    during_send = []

    def twilio_answers(request):
        if not during_send:  # the first send: the STOP arrives while it is in flight
            during_send.append(OutboundMessage.objects.get().status)
            text_in(PHONE, "STOP")
        body = {"sid": f"SM{len(during_send):032d}", "status": "queued"}
        return 201, {}, json.dumps(body)

    twilio_api.add_callback(responses.POST, messages_url(), callback=twilio_answers)
    text_in(PHONE, "hello")

    assert during_send == [DeliveryStatus.SENDING]
    invite = OutboundMessage.objects.get(purpose="prompt")
    assert invite.status == DeliveryStatus.ACCEPTED  # it had gone: never shown canceled
    contact = Contact.objects.get(phone=PHONE)
    assert contact.opted_out
    assert Enrollment.objects.get(contact=contact).status == Enrollment.Status.OPTED_OUT
    # Later plan messages never go: the reminder's timeout was cleared with the enrollment.
    from datetime import timedelta

    from django.utils import timezone

    assert enrollment_timeouts_fire(now=timezone.now() + timedelta(days=2)) == 0
    assert len(twilio_api.calls) == 1


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ("Stop texting me!", "en: “stop texting me”"),
        ("please stop", "en: the word 'stop'"),
        ("Take me off your list", "en: “take me off your list”"),
        ("No más", "es: the word 'no mas'"),
        ("no me envíen más mensajes", "es: “no me envien mas”"),
    ],
)
def test_a_message_that_plainly_asks_to_stop_opts_out_like_stop(
    demo_plan, text_in, sms_outbox, settings, body, rule
):
    settings.SMS_OPT_OUT_CONFIRMATION = "You are unsubscribed. No more messages."
    text_in(PHONE, "hello")
    text_in(PHONE, body)
    text_in(PHONE, "stop texting me, I said")  # already out: no second confirmation
    contact = Contact.objects.get(phone=PHONE)
    assert contact.opted_out is True
    event = ConsentEvent.objects.get(contact=contact)
    assert (event.kind, event.source, event.text, event.rule) == ("opt_out", "revocation", body, rule)
    assert Enrollment.objects.get(contact=contact).status == Enrollment.Status.OPTED_OUT
    assert bodies(sms_outbox, PHONE) == [INVITE, "You are unsubscribed. No more messages."]


@pytest.mark.parametrize("body", ["stop by the store", "can't stop smiling", "don't stop the deals"])
def test_a_message_that_merely_contains_a_stop_word_is_an_ordinary_reply(
    demo_plan, text_in, sms_outbox, body
):
    text_in(PHONE, "hello")
    text_in(PHONE, body)
    contact = Contact.objects.get(phone=PHONE)
    assert contact.opted_out is False and not ConsentEvent.objects.exists()
    # The plan heard it: Invited's answer to a reply it does not understand.
    assert bodies(sms_outbox, PHONE) == [INVITE, INVITE_FALLBACK]


def test_the_consent_log_keeps_the_keyword_message_as_written(demo_plan, text_in, sms_outbox):
    text_in(PHONE, "  Stop!! ")
    event = ConsentEvent.objects.get()
    assert (event.source, event.text, event.rule) == ("keyword", "  Stop!! ", "keyword STOP")


def test_the_consent_log_exports_as_csv_for_an_audit(demo_plan, text_in, sms_outbox, admin_client):
    import csv
    import io

    from django.urls import reverse

    from contacts.selectors import CONSENT_COLUMNS

    text_in(PHONE, '=HYPERLINK("x") stop texting me')
    text_in(PHONE, "START")
    text_in("+12125550124", "STOP")
    listing = admin_client.get(reverse("admin:contacts_consentevent_changelist")).content.decode()
    assert reverse("admin:contacts_consentevent_export") in listing
    response = admin_client.get(reverse("admin:contacts_consentevent_export"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == list(CONSENT_COLUMNS)
    assert CONSENT_COLUMNS[:6] == ("occurred_at", "phone", "kind", "source", "rule", "text")
    body = [row[1:6] for row in rows[1:]]
    assert body == [
        [PHONE, "opt_out", "revocation", "en: “stop texting me”", '\'=HYPERLINK("x") stop texting me'],
        [PHONE, "opt_in", "keyword", "keyword START", "START"],
        ["+12125550124", "opt_out", "keyword", "keyword STOP", "STOP"],
    ]
