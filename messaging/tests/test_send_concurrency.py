"""Duplicated tasks racing for one message on PostgreSQL: exactly one HTTP send."""

import threading

import pytest
from django.db import connection

from contacts.tests.factories import ContactFactory
from messaging.models import DeliveryStatus, OutboundMessage
from messaging.services import outbound_send
from messaging.tests.conftest import accept_all
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

    n = 8
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def task() -> None:
        try:
            barrier.wait(timeout=10)
            outbound_send(outbound_id=outbound.pk)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=task) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(twilio_api.calls) == 1
    outbound = OutboundMessage.objects.get(pk=outbound.pk)
    assert outbound.status == DeliveryStatus.ACCEPTED
    assert outbound.attempts == 1
