"""docs/reference.md §3: the webhook answers within 5 s even when Twilio's REST API is down; the
unsent reply is kept and sent later, never lost. Twilio faked at the HTTP layer."""

from datetime import timedelta

import pytest
import requests
import responses
import time_machine
from django.utils import timezone

from automation.engine.plans import plan_load_demo
from conftest import INVITE
from messaging.models import DeliveryStatus, OutboundMessage
from messaging.services import outbound_release_due
from messaging.tasks import outbound_release_due_task
from messaging.tests.conftest import accept_all, error, messages_url

pytestmark = pytest.mark.django_db

PHONE = "+12125550123"


@pytest.mark.parametrize(
    "outage",
    [error(503, 503, "Service Unavailable"), {"body": requests.ConnectTimeout("connect timed out")}],
    ids=["503", "timeout"],
)
def test_webhook_answers_while_twilio_is_down_and_the_reply_is_sent_later(text_in, twilio_api, outage):
    plan_load_demo()
    twilio_api.add(responses.POST, messages_url(), **outage)

    response = text_in(PHONE, "Hello")

    assert response.status_code == 200
    assert len(twilio_api.calls) == 1  # one try, no retry loop inside the request
    outbound = OutboundMessage.objects.select_related("interaction").get()
    assert outbound.interaction.body == INVITE
    assert outbound.status == DeliveryStatus.QUEUED
    assert outbound.send_after > timezone.now()
    assert outbound.error_message

    # A second message while Twilio is still down: answered without trying Twilio again.
    response = text_in(PHONE, "Anyone there?")
    assert response.status_code == 200
    assert len(twilio_api.calls) == 1

    # Twilio is back; the release job (beat, every minute) runs a few minutes later.
    twilio_api.remove(responses.POST, messages_url())
    accept_all(twilio_api)
    with time_machine.travel(timezone.now() + timedelta(minutes=3), tick=False):
        outbound_release_due_task.apply()
    outbound.refresh_from_db()
    assert outbound.status == DeliveryStatus.ACCEPTED
    assert outbound.interaction.provider_sid.startswith("SM")
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {DeliveryStatus.ACCEPTED}
    assert len(twilio_api.calls) == 1 + OutboundMessage.objects.count()
    assert outbound_release_due() == 0
