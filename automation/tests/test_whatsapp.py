"""WhatsApp over the same webhook and REST client (docs/reference.md §3, §8), driven as Twilio
drives it: the signed webhook and status callback, the events API, the release job; Twilio's
REST API faked at the HTTP layer.

- ``From=whatsapp:+E164`` is the person with that number: one contact for SMS and WhatsApp;
  each message keeps its channel, and replies go back over the channel the contact used.
- More than 24 hours after the contact's last WhatsApp message, a text goes as its step's
  ``whatsapp_template`` (``ContentSid`` + ``ContentVariables``), else it ends ``failed``
  with 63016 and Twilio is never called — also for a text held past the window.
- ``read`` statuses are shown."""

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from automation.tests.factories import ask, plan_make, send
from conftest import api_user, command, contact_messages, page_text, token_auth
from contacts.models import Contact
from messaging.models import DeliveryStatus, OutboundMessage, Sender
from messaging.tests.conftest import accept_all, form
from tracking.models import Interaction

pytestmark = pytest.mark.django_db

PHONE = "+12125550123"
WA_PHONE = "whatsapp:+12125550123"
WA_SENDER = "whatsapp:+14155238886"
DEFAULT = "+14155550100"  # TWILIO_FROM_NUMBER in the test settings
TEMPLATE = {"content_sid": "HX" + "b" * 32, "variables": {"1": "{{ contact.first_name }}", "2": "spring"}}


@pytest.fixture
def rest(twilio_api):
    """Twilio's REST API accepting every message: ``rest.sent()`` → what each call posted."""
    accept_all(twilio_api)
    twilio_api.sent = lambda: [form(call) for call in twilio_api.calls]
    return twilio_api


def messages(client, phone: str = PHONE) -> list[dict]:
    return contact_messages(client, phone)


def plan_with_template(*, step_id: str, template: dict, **kwargs):
    """A plan whose step `step_id` has a ``whatsapp_template`` (docs/reference.md §6)."""
    steps = copy.deepcopy(kwargs.pop("steps"))
    for step in steps:
        if step["id"] == step_id:
            step["whatsapp_template"] = template
    return plan_make(steps=steps, **kwargs)


def shipped_plan(template: dict | None):
    """Entered by the event ``shipped``, texting from the WhatsApp sender."""
    steps = [send("note", "Hi {{ contact.first_name }}, your spring order shipped.")]
    entry = {"trigger": "event", "event": "shipped", "sender": WA_SENDER}
    if template is None:
        return plan_make(entry=entry, steps=steps)
    return plan_with_template(step_id="note", template=template, entry=entry, steps=steps)


@pytest.fixture
def shipped(client, django_capture_on_commit_callbacks):
    """The shop posts the event ``shipped`` for PHONE (a contact with marketing consent)."""
    Contact.objects.create(phone=PHONE, first_name="Ann", consent_at=timezone.now())
    shop = token_auth(api_user("shop", "tracking.add_interaction"))

    def post(event_id: str = "ship-1"):
        body = {"event_id": event_id, "phone": PHONE, "type": "shipped"}
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/events/", body, content_type="application/json", **shop)
        assert response.status_code == 201, response.content

    return post


def test_whatsapp_round_trip_one_contact_replies_on_the_channel_used_read_shown(
    client, rest, text_in, twilio, settings
):
    settings.SMS_HELP_TEXT = "Acme: help at acme.example. Reply STOP to opt out."
    plan_make(steps=[ask("first", "Hi! Reply NEXT.", [("NEXT", "second")]), ask("second", "Now MORE.")])
    text_in(WA_PHONE, "hello", To=WA_SENDER)
    text_in(WA_PHONE, "help", To=WA_SENDER)
    text_in(PHONE, "next", To=DEFAULT)  # the same person over SMS
    assert Contact.objects.count() == 1
    assert Sender.objects.get(address=WA_SENDER).kind == "whatsapp"
    sent = [(f["From"], f["To"], f["Body"]) for f in rest.sent()]
    assert sent == [
        (WA_SENDER, WA_PHONE, "Hi! Reply NEXT."),
        (WA_SENDER, WA_PHONE, settings.SMS_HELP_TEXT),
        (DEFAULT, PHONE, "Now MORE."),
    ]
    shown = [(m["direction"], m["channel"], m["from"], m["to"]) for m in messages(client)]
    assert shown == [
        ("inbound", "whatsapp", WA_PHONE, WA_SENDER),
        ("outbound", "whatsapp", WA_SENDER, WA_PHONE),
        ("inbound", "whatsapp", WA_PHONE, WA_SENDER),
        ("outbound", "whatsapp", WA_SENDER, WA_PHONE),
        ("inbound", "sms", PHONE, DEFAULT),
        ("outbound", "sms", DEFAULT, PHONE),
    ]
    # Twilio reports the first answer read; a late "delivered" does not move it back.
    first = OutboundMessage.objects.order_by("pk").first()
    for status in ("delivered", "read", "delivered"):
        payload = {"MessageSid": first.interaction.provider_sid, "MessageStatus": status}
        assert twilio.post(f"/twilio/status/?id={first.pk}", payload).status_code == 200
    assert messages(client)[1]["status"] == "read"
    # The segments a message costs: a WhatsApp message counts one, whatever its length.
    assert first.segments == 1


def test_the_timeline_and_admin_show_the_channel_and_sender(admin_client, rest, text_in):
    plan_make(steps=[ask("first", "Hi! Reply NEXT.")])
    text_in(WA_PHONE, "hello", To=WA_SENDER)
    contact = Contact.objects.get()
    page = page_text(admin_client.get(f"/admin/contacts/contact/{contact.pk}/change/"))
    assert f"WhatsApp · to {WA_SENDER}" in page and f"WhatsApp · from {WA_SENDER}" in page
    outbound = OutboundMessage.objects.get()
    assert WA_SENDER in page_text(admin_client.get("/admin/messaging/outboundmessage/"))
    assert WA_SENDER in page_text(admin_client.get(f"/admin/messaging/outboundmessage/{outbound.pk}/change/"))
    assert WA_SENDER in page_text(admin_client.get("/admin/tracking/interaction/"))


def test_outside_the_window_the_step_s_template_goes_as_content_sid_and_variables(client, rest, shipped):
    shipped_plan(TEMPLATE)
    shipped()  # Ann never wrote on WhatsApp: the window is closed
    (sent,) = rest.sent()
    assert (sent["From"], sent["To"], sent["ContentSid"]) == (WA_SENDER, WA_PHONE, TEMPLATE["content_sid"])
    assert json.loads(sent["ContentVariables"]) == {"1": "Ann", "2": "spring"}
    assert "Body" not in sent
    outbound = OutboundMessage.objects.get()
    assert (outbound.content_sid, outbound.content_variables) == (
        TEMPLATE["content_sid"],
        {"1": "Ann", "2": "spring"},
    )
    assert messages(client)[-1]["channel"] == "whatsapp"


def test_outside_the_window_without_a_template_fails_63016_and_twilio_is_never_called(
    admin_client, client, rest, shipped
):
    shipped_plan(None)
    shipped()
    assert rest.sent() == []
    outbound = OutboundMessage.objects.get()
    assert (outbound.status, outbound.error_code) == (DeliveryStatus.FAILED, "63016")
    shown = messages(client)[-1]
    assert (shown["status"], shown["error_code"], shown["to"]) == ("failed", 63016, WA_PHONE)
    page = page_text(admin_client.get(f"/admin/contacts/contact/{outbound.contact_id}/change/"))
    assert "error 63016: Not sent: WhatsApp allows free text only within 24 hours" in page


def test_inside_the_window_free_text_goes_even_when_the_step_has_a_template(rest, text_in):
    plan_with_template(
        step_id="first",
        template=TEMPLATE,
        steps=[ask("first", "Hi {{ contact.first_name|default:'there' }}!")],
    )
    text_in(WA_PHONE, "hello", To=WA_SENDER)
    (sent,) = rest.sent()
    assert (sent["Body"], "ContentSid" in sent) == ("Hi there!", False)
    # The template stays with the text: had the window closed before it went, it would go.
    assert OutboundMessage.objects.get().content_sid == TEMPLATE["content_sid"]


def test_a_text_held_past_the_window_is_not_sent_as_free_text(rest, text_in, timers, settings):
    """A text held for quiet hours while the window was open, released after it closed."""
    settings.SMS_QUIET_HOURS = "11:00-09:00"  # in the contact's time: New York for +1 212
    settings.SMS_STATE_HOURS = False
    plan_make(
        steps=[
            send("welcome", "Welcome!", "pause"),
            {"id": "pause", "type": "delay", "for": "PT1H", "next": "more"},
            send("more", "Here is more."),
        ]
    )
    t0 = datetime(2030, 3, 4, 15, 0, tzinfo=UTC)  # 10:00 in New York
    with time_machine.travel(t0, tick=False):
        text_in(WA_PHONE, "hello", To=WA_SENDER)  # answered at once
    with time_machine.travel(t0 + timedelta(hours=1), tick=False):
        assert timers(t0 + timedelta(hours=1)) == 1  # quiet from 11:00: held until 09:00, 23 h after
    held = OutboundMessage.objects.get(interaction__body="Here is more.")
    assert (held.status, held.content_sid) == (DeliveryStatus.HELD, "")
    assert held.send_after == t0 + timedelta(hours=23)
    with time_machine.travel(t0 + timedelta(hours=25), tick=False):  # the release job ran late
        command("send_due_messages")
    held.refresh_from_db()
    assert (held.status, held.error_code) == (DeliveryStatus.FAILED, "63016")
    assert [f["Body"] for f in rest.sent()] == ["Welcome!"]
    assert Interaction.objects.filter(channel="whatsapp", direction="outbound").count() == 2


def test_a_text_with_a_template_held_past_the_window_goes_as_the_template(rest, text_in, timers, settings):
    """Queued while the window was open (so it would have gone as free text), released after
    it closed: it goes as its step's template (docs/reference.md §8)."""
    settings.SMS_QUIET_HOURS = "11:00-09:00"
    settings.SMS_STATE_HOURS = False
    plan_with_template(
        step_id="more",
        template=TEMPLATE,
        steps=[
            send("welcome", "Welcome!", "pause"),
            {"id": "pause", "type": "delay", "for": "PT1H", "next": "more"},
            send("more", "Here is more."),
        ],
    )
    t0 = datetime(2030, 3, 4, 15, 0, tzinfo=UTC)  # 10:00 in New York
    with time_machine.travel(t0, tick=False):
        text_in(WA_PHONE, "hello", To=WA_SENDER)
    with time_machine.travel(t0 + timedelta(hours=1), tick=False):
        assert timers(t0 + timedelta(hours=1)) == 1  # held until 09:00, 23 h after
    with time_machine.travel(t0 + timedelta(hours=25), tick=False):
        command("send_due_messages")
    welcome, more = rest.sent()
    assert welcome["Body"] == "Welcome!"
    assert (more.get("Body"), more["ContentSid"]) == (None, TEMPLATE["content_sid"])
