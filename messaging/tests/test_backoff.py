"""Twilio says slow down (docs/reference.md §8, docs/architecture.md §3): a 429 from the REST
API (its Retry-After) or a 63018 in a status callback (WhatsApp's rate limit) backs the
whole sender off — the next texts on it wait in our queue, not Twilio's."""

import pytest
import responses

from contacts.tests.factories import ContactFactory
from messaging.models import DeliveryStatus, OutboundMessage
from messaging.services import outbound_queue
from messaging.tests.conftest import created, messages_url
from messaging.tests.test_apis import callback

pytestmark = pytest.mark.django_db


def queue_for(phone: str, body: str = "Hi") -> OutboundMessage:
    return outbound_queue(
        contact=ContactFactory(phone=phone), body=body, purpose="prompt", answers_contact=True
    )


def test_a_429_backs_the_sender_off_for_its_retry_after(twilio_api, django_capture_on_commit_callbacks):
    twilio_api.add(
        responses.POST,
        messages_url(),
        status=429,
        json={"code": 20429, "message": "Too Many Requests", "status": 429},
        headers={"Retry-After": "30"},
    )
    twilio_api.add(responses.POST, messages_url(), **created())
    with django_capture_on_commit_callbacks(execute=True):
        first = queue_for("+12125550101")
    with django_capture_on_commit_callbacks(execute=True):
        second = queue_for("+12125550102")  # another contact, the same sender
    assert len(twilio_api.calls) == 1  # the second waits out the sender's back-off
    first.refresh_from_db()
    assert first.status == DeliveryStatus.QUEUED and first.error_code == "20429"
    assert OutboundMessage.objects.get(pk=second.pk).status == DeliveryStatus.QUEUED


def test_a_63018_status_callback_backs_the_sender_off(twilio_api, twilio, django_capture_on_commit_callbacks):
    twilio_api.add(responses.POST, messages_url(), **created(sid="SM" + "b" * 32))
    twilio_api.add(responses.POST, messages_url(), **created(sid="SM" + "c" * 32))
    with django_capture_on_commit_callbacks(execute=True):
        queue_for("+12125550103")
    assert len(twilio_api.calls) == 1
    failed = callback("SM" + "b" * 32, "failed", ErrorCode="63018")
    assert twilio.post("/twilio/status/", failed).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        waiting = queue_for("+12125550104")
    assert len(twilio_api.calls) == 1
    assert OutboundMessage.objects.get(pk=waiting.pk).status == DeliveryStatus.QUEUED
