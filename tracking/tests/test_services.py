"""Tracking services: goal conversions and reading Twilio payloads."""

import pytest

from automation.tests.factories import EnrollmentFactory
from conftest import inbound_payload
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from tracking.models import GoalConversion
from tracking.services import InboundPayloadError, goal_convert, inbound_payload_parse
from tracking.tests.factories import GoalFactory, InteractionFactory


@pytest.mark.django_db
def test_a_goal_converts_once_per_enrollment_and_adds_its_points():
    enrollment = EnrollmentFactory()
    contact = enrollment.contact
    goal = GoalFactory(points=25)
    interaction = InteractionFactory(contact=contact)
    first = goal_convert(contact=contact, goal_id=goal.pk, enrollment=enrollment, interaction=interaction)
    again = goal_convert(contact=contact, goal_id=goal.pk, enrollment=enrollment, interaction=interaction)
    assert first is not None and again is None
    assert (first.points, first.occurred_at, first.interaction) == (25, interaction.created_at, interaction)
    assert Contact.objects.get(pk=contact.pk).engagement_value == 25
    assert contact.engagement_value == 25
    other = EnrollmentFactory(contact=contact)  # another plan
    assert goal_convert(contact=contact, goal_id=goal.pk, enrollment=other) is not None
    assert Contact.objects.get(pk=contact.pk).engagement_value == 50


@pytest.mark.django_db
def test_goals_outside_an_enrollment_always_count():
    contact = ContactFactory()
    goal = GoalFactory(points=4)
    goal_convert(contact=contact, goal_id=goal.pk)
    goal_convert(contact=contact, goal_id=goal.pk)
    assert GoalConversion.objects.count() == 2
    assert Contact.objects.get(pk=contact.pk).engagement_value == 8


def test_payload_parse_reads_media_and_normalises_the_sender():
    message = inbound_payload_parse(
        payload=inbound_payload(
            "+1 (212) 555-0123", "hi\x00", NumMedia="2", MediaUrl0="https://m/0", MediaUrl1="https://m/1"
        )
    )
    assert (message.phone, message.body, [m["url"] for m in message.media]) == (
        "+12125550123",
        "hi",
        ["https://m/0", "https://m/1"],
    )
    assert message.raw["MediaUrl1"] == "https://m/1"


@pytest.mark.parametrize(
    "change",
    [{"MessageSid": ""}, {"From": ""}, {"From": "12125550123"}, {"From": "+999"}, {"From": "client:alice"}],
)
def test_payload_parse_refuses_unusable_payloads(change):
    with pytest.raises(InboundPayloadError):
        inbound_payload_parse(payload={**inbound_payload("+12125550123", "hi"), **change})
