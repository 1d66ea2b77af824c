"""infra/broker.py: kombu's Redis transport, keeping one client per channel."""

import os
import uuid

import pytest
from kombu import Connection

from infra.broker import Transport


@pytest.mark.celery_broker
def test_messages_go_through_one_client_per_channel():
    queue = f"sj-broker-test-{uuid.uuid4().hex[:8]}"
    with Connection(os.environ["CELERY_BROKER_URL"], transport=Transport) as conn:
        channel = conn.default_channel
        assert channel._create_client() is channel._create_client()
        simple = conn.SimpleQueue(queue)
        try:
            for i in range(3):
                simple.put({"n": i})
            received = []
            for _ in range(3):
                message = simple.get(timeout=5)
                received.append(message.payload["n"])
                message.ack()
            assert received == [0, 1, 2]
        finally:
            simple.queue.delete()
            simple.close()


@pytest.mark.celery_broker
@pytest.mark.django_db
def test_a_reply_is_published_ahead_of_plan_and_bulk_messages(settings):
    """On Redis each priority has its list and workers serve them in order: a reply to a
    contact goes in the first one, a plan or bulk message in a later one."""
    import redis

    from contacts.tests.factories import ContactFactory
    from messaging.services import outbound_enqueue, outbound_queue
    from smsjourney.celery import app

    queue = f"sj-priority-test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = os.environ["CELERY_BROKER_URL"]
    saved = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager, app.conf.task_default_queue = False, queue
    client = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    try:
        contact = ContactFactory()
        bulk = outbound_queue(contact=contact, body="Sale", purpose="bulk", answers_contact=False)
        reply = outbound_queue(contact=contact, body="Your quote", purpose="prompt", answers_contact=True)
        outbound_enqueue(outbound_id=bulk.pk, answers_contact=False)
        outbound_enqueue(outbound_id=reply.pk, answers_contact=True)
        assert client.llen(queue) == 1  # priority 0: served first
        assert client.llen(f"{queue}:6") == 1
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = saved
        client.delete(queue, f"{queue}:6")


@pytest.mark.celery_broker
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("task_path", "args", "queue"),
    [
        ("automation.tasks.http_step_task", (123456789, 1), "http"),
        ("automation.tasks_bulk.bulk_enrollment_batch_task", (123456789, [1]), "bulk"),
    ],
)
def test_http_steps_and_bulk_batches_go_to_their_own_queues_which_a_plain_worker_consumes_too(
    settings, task_path, args, queue
):
    """A plan `http` step waits on someone else's web service, a bulk batch enrolls 500
    contacts: their tasks are published to queues of their own (`http`, `bulk`), so workers
    started with `-X http,bulk` never hold a reply behind them; a worker started as
    docs/reference.md §2 says (no -Q) consumes every queue."""
    from importlib import import_module

    import redis

    from infra.background import task_enqueue
    from smsjourney.celery import app

    module, name = task_path.rsplit(".", 1)
    task = getattr(import_module(module), name)
    assert {"celery", "http", "bulk"} <= set(app.amqp.queues)  # what a plain worker consumes
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = os.environ["CELERY_BROKER_URL"]
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = False
    client = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    before = client.llen(queue), client.llen("celery")
    try:
        task_enqueue(task, args=args)
        assert (client.llen(queue), client.llen("celery")) == (before[0] + 1, before[1])
    finally:
        app.conf.task_always_eager = saved
        if client.llen(queue) > before[0]:
            client.lpop(queue)  # ours: the newest, at the head
