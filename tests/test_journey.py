"""The seed journey end to end, through the signed webhook (docs/reference.md §3, §4)."""

from datetime import timedelta

import pytest

from automation.models import Enrollment, EnrollmentStep
from conftest import INVITE, INVITE_FALLBACK, QUOTED, THANKS, bodies
from contacts.models import Contact
from messaging.models import OutboundMessage
from tracking.models import GoalConversion, Interaction

pytestmark = pytest.mark.django_db

PHONE = "+12125550123"


def test_seed_journey_end_to_end(demo_plan, text_in, sms_outbox):
    response = text_in(PHONE, "Hello there")
    assert response["Content-Type"] == "text/xml"
    assert response.content == b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
    contact = Contact.objects.get(phone=PHONE)
    enrollment = Enrollment.objects.get(contact=contact)
    assert enrollment.status == Enrollment.Status.ACTIVE
    assert enrollment.step_id == "invited"
    assert enrollment.expires_at == enrollment.enrolled_at + timedelta(
        days=7
    )  # the demo plan's lifetime, P7D
    assert bodies(sms_outbox, PHONE) == [INVITE]

    text_in(PHONE, "  quote! ")
    enrollment = Enrollment.objects.get(pk=enrollment.pk)
    assert enrollment.step_id == "quoted"
    assert bodies(sms_outbox, PHONE) == [INVITE, QUOTED]
    conversion = GoalConversion.objects.get(contact=contact)
    assert (conversion.goal.name, conversion.points, conversion.enrollment) == (
        "Quote requested",
        10,
        enrollment,
    )
    contact.refresh_from_db()
    assert contact.engagement_value == 10

    text_in(PHONE, "BUY")
    enrollment = Enrollment.objects.get(pk=enrollment.pk)
    contact.refresh_from_db()
    assert enrollment.step_id == "purchased"
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert enrollment.ended_at is not None
    assert bodies(sms_outbox, PHONE) == [INVITE, QUOTED, THANKS]
    assert [c.goal.name for c in GoalConversion.objects.filter(contact=contact)] == [
        "Quote requested",
        "Purchase",
    ]
    assert contact.engagement_value == 60
    assert [s.via for s in EnrollmentStep.objects.filter(enrollment=enrollment)] == [
        "enroll",
        "reply",
        "reply",
    ]

    # Every message is an interaction: 3 in, 3 out, the outbound ones with Twilio's sid.
    assert Interaction.objects.filter(contact=contact, direction="inbound").count() == 3
    outbound = Interaction.objects.filter(contact=contact, direction="outbound")
    assert [i.body for i in outbound] == [INVITE, QUOTED, THANKS]
    assert all(i.provider_sid for i in outbound)
    assert set(OutboundMessage.objects.filter(contact=contact).values_list("answers_contact", flat=True)) == {
        True
    }

    # The journey is over: a new message enrolls the contact again.
    text_in(PHONE, "hi again")
    assert Enrollment.objects.filter(contact=contact).count() == 2
    again = Enrollment.objects.get(contact=contact, status=Enrollment.Status.ACTIVE)
    assert again.step_id == "invited"
    assert bodies(sms_outbox, PHONE)[-1] == INVITE


def test_inbound_message_is_stored_with_media_and_raw_payload(demo_plan, text_in):
    text_in(
        PHONE,
        "",
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/media/ME1",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/media/ME2",
        MediaContentType1="image/png",
        MessageSid="MM0123456789abcdef0123456789abcdef",
    )
    interaction = Interaction.objects.get(provider_sid="MM0123456789abcdef0123456789abcdef")
    assert interaction.direction == "inbound"
    assert [m["url"] for m in interaction.media] == [
        "https://api.twilio.com/media/ME1",
        "https://api.twilio.com/media/ME2",
    ]
    assert interaction.media[1]["content_type"] == "image/png"
    assert interaction.raw_payload["MediaContentType1"] == "image/png"
    assert interaction.contact.last_inbound_at == interaction.created_at


def test_unmatched_reply_gets_the_fallback_once_per_state(demo_plan, text_in, sms_outbox):
    text_in(PHONE, "hello")
    text_in(PHONE, "what?")
    text_in(PHONE, "huh")
    assert bodies(sms_outbox, PHONE) == [INVITE, INVITE_FALLBACK]
    text_in(PHONE, "QUOTE")
    text_in(PHONE, "no idea")
    text_in(PHONE, "still no idea")
    assert bodies(sms_outbox, PHONE)[2:] == [
        QUOTED,
        "Sorry, we didn't catch that. Reply BUY to claim your discount.",
    ]
    enrollment = Enrollment.objects.get(contact__phone=PHONE)
    assert enrollment.step_id == "quoted"
    assert enrollment.other_count == 1  # the fallback of this visit went out
