"""A real Celery worker (another process) sends a queued message: Redis broker,
PostgreSQL, the twilio backend against a local fake Twilio server."""

import os

import pytest

from conftest import INVITE
from contacts.tests.factories import ContactFactory
from messaging.models import DeliveryStatus, OutboundMessage
from messaging.services import outbound_enqueue, outbound_queue
from tests.celery_worker import celery_worker, worker_log
from tests.servers import fake_twilio_env, wait_for

pytestmark = [
    pytest.mark.celery_broker,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def worker(fake_twilio, settings):
    with celery_worker(
        settings,
        CELERY_BROKER_URL=os.environ["CELERY_BROKER_URL"],
        **fake_twilio_env(fake_twilio),
        TWILIO_MESSAGING_SERVICE_SID="",
        PUBLIC_BASE_URL=settings.PUBLIC_BASE_URL,
    ) as running:
        yield running


def test_a_real_worker_sends_a_queued_message_once(worker, fake_twilio):
    proc, log = worker
    contact = ContactFactory(phone="+12125550199")
    outbound = outbound_queue(  # autocommit: committed, then enqueued on the broker
        contact=contact, body="Sent by a real worker", purpose="prompt", answers_contact=True
    )
    outbound_enqueue(outbound_id=outbound.pk)  # a duplicated task must not send twice

    def both_tasks_ran() -> bool:  # the worker logs each task it finished
        log.seek(0)
        return log.read().count("Task automation.tasks.outbound_send_task[") >= 2

    assert wait_for(both_tasks_ran, timeout=60), f"worker did not run both tasks {worker_log(proc, log)}"
    outbound = OutboundMessage.objects.select_related("interaction").get(pk=outbound.pk)
    assert outbound.status == DeliveryStatus.ACCEPTED  # Twilio answered "queued": not sent yet
    assert len(fake_twilio.received) == 1  # the duplicate task found it claimed: no second send
    request = fake_twilio.received[0]
    assert request["form"]["To"] == "+12125550199"
    assert request["form"]["Body"] == "Sent by a real worker"
    assert request["form"]["StatusCallback"] == f"https://sms.example.com/twilio/status/?id={outbound.pk}"
    assert outbound.interaction.provider_sid == request["sid"]
    assert outbound.attempts == 1


def test_a_real_worker_routes_what_the_webhook_stored_and_sends_the_reply(worker, fake_twilio, twilio):
    """With a broker the webhook only stores the message and enqueues its routing; the worker
    runs the engine (enrollment, prompt) and sends the prompt."""
    from automation.engine.plans import plan_load_demo
    from automation.models import Enrollment
    from conftest import inbound_payload
    from tracking.models import Interaction

    proc, log = worker
    plan_load_demo()
    assert twilio.post("/twilio/sms/", inbound_payload("+12125550198", "hello")).status_code == 200

    assert wait_for(lambda: fake_twilio.bodies(), timeout=60), f"no reply sent {worker_log(proc, log)}"
    assert fake_twilio.bodies() == [INVITE]
    assert Interaction.objects.get(direction="inbound", contact__phone="+12125550198").routed_at is not None
    assert Enrollment.objects.get(contact__phone="+12125550198").step_id == "invited"


def test_a_real_worker_counts_into_the_store_every_process_reads(
    worker, fake_twilio, twilio, client, settings
):
    """docs/reference.md §9: what the worker counts (the send, the reply time) and its heartbeat
    reach /metrics as this process (a web process) serves it: the counters live on the broker's
    Redis, the heartbeat in the database."""
    from prometheus_client.parser import text_string_to_metric_families

    from automation.engine.plans import plan_load_demo
    from conftest import inbound_payload

    settings.METRICS_TOKEN = "worker-test-token"

    def figures() -> dict:
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer worker-test-token")
        assert response.status_code == 200
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.content.decode())
            for s in family.samples
        }

    sent = ("smsjourney_outbound_messages_total", (("status", "sent"),))
    replies = ("smsjourney_reply_seconds_count", ())
    inbound = ("smsjourney_inbound_messages_total", (("channel", "sms"),))
    proc, log = worker
    plan_load_demo()
    before = figures()
    assert twilio.post("/twilio/sms/", inbound_payload("+12125550197", "hello")).status_code == 200
    assert wait_for(lambda: figures()[sent] == before[sent] + 1, timeout=60), worker_log(proc, log)
    after = figures()
    assert after[inbound] == before[inbound] + 1  # counted here, by the webhook
    assert after[replies] == before[replies] + 1  # counted there, by the worker
    assert after[("smsjourney_workers_seen", (("kind", "worker"),))] >= 1
