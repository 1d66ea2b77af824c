"""Duplicated tasks racing for one message on PostgreSQL: exactly one HTTP send."""

import pytest

from contacts.tests.factories import ContactFactory
from messaging.models import DeliveryStatus, OutboundMessage
from messaging.services import outbound_send
from messaging.tests.conftest import accept_all
from tests.threads import all_at_once
from tracking.tests.factories import InteractionFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_simultaneous_tasks_for_one_message_send_it_once(twilio_api):
    accept_all(twilio_api)
    contact = ContactFactory()
    # A queued message whose task got duplicated (not enqueued here: no on_commit).
    outbound = OutboundMessage.objects.create(
        interaction=InteractionFactory(contact=contact, direction="outbound", body="Once", provider_sid=None),
        contact=contact,
        purpose=OutboundMessage.Purpose.PROMPT,
        to_number=contact.phone,
    )

    all_at_once(lambda: outbound_send(outbound_id=outbound.pk), n=8)  # raises what a thread raised
    assert len(twilio_api.calls) == 1
    outbound = OutboundMessage.objects.get(pk=outbound.pk)
    assert outbound.status == DeliveryStatus.ACCEPTED
    assert outbound.attempts == 1
