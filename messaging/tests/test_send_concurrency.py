"""Duplicated tasks racing for one message on PostgreSQL: exactly one HTTP send."""

import pytest

from messaging.models import DeliveryStatus, OutboundMessage
from messaging.services import outbound_send
from messaging.tests.conftest import accept_all
from messaging.tests.factories import OutboundMessageFactory
from tests.threads import all_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_simultaneous_tasks_for_one_message_send_it_once(twilio_api):
    accept_all(twilio_api)
    # A queued message whose task got duplicated (not enqueued here: no on_commit).
    outbound = OutboundMessageFactory(interaction__body="Once")

    all_at_once(lambda: outbound_send(outbound_id=outbound.pk), n=8)  # raises what a thread raised
    assert len(twilio_api.calls) == 1
    outbound = OutboundMessage.objects.get(pk=outbound.pk)
    assert outbound.status == DeliveryStatus.ACCEPTED
    assert outbound.attempts == 1
