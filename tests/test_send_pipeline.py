"""The send pipeline under real workers (issue 20; docs/reference.md §3, §8): PostgreSQL, a
Redis broker, Celery worker processes with threads, and a fake Twilio that answers after
a random delay and records when each request arrived.

- A journey's texts reach Twilio in the order it made them, per contact, whatever the
  number of workers (two processes of four threads here).
- A paced sender is never handed more than its limit in any second, and a reply to a
  contact's own message overtakes the campaign waiting behind that limit.
- Redis crashes in the middle of a campaign (broker and limiter both): nothing is lost,
  nothing is sent twice, and the pacing resumes.

Nothing is timed beyond bounds that stop a broken run: the assertions are on what the
fake Twilio received."""

import contextlib
import json
import os
import time
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from automation.tests.factories import plan_make, send
from conftest import api_user, inbound_payload, token_auth
from contacts.tests.factories import ContactFactory
from messaging.models import DeliveryStatus, Lane, OutboundMessage, Sender
from messaging.tests.factories import OutboundMessageFactory
from tests.celery_worker import celery_worker
from tests.servers import RedisServer, fake_twilio_env, log_tail, wait_for

pytestmark = [
    pytest.mark.celery_broker,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

SENDER = "+14155550100"  # the default number (fake_twilio_env's TWILIO_FROM_NUMBER)


@contextlib.contextmanager
def two_workers(settings, fake_twilio, **env):
    """Two worker processes of four threads each, on one private queue."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    common = {
        "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
        **fake_twilio_env(fake_twilio),
        "TWILIO_MESSAGING_SERVICE_SID": "",
        "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL,
        **env,
    }
    with (
        celery_worker(settings, queue=queue, threads=4, **common) as one,
        celery_worker(settings, queue=queue, threads=4, **common) as two,
    ):
        yield one, two


def logs(*workers) -> str:
    return "\n".join(f"(worker exit {proc.poll()})\n{log_tail(log, tail=10**6)}" for proc, log in workers)


def to(fake_twilio, phone: str) -> list[str]:
    with fake_twilio.lock:
        return [r["form"].get("Body", "") for r in fake_twilio.received if r["form"].get("To") == phone]


def most_in_one_second(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


def test_a_journey_s_texts_reach_twilio_in_the_order_it_made_them(settings, fake_twilio, twilio):
    """Three `send` steps and the first text of the plan an `enter_plan` step enters, for
    eight contacts at once; Twilio answers each call after 0 to 80 ms."""
    fake_twilio.latency = (0.0, 0.08)
    plan_make(slug="after", entry={"trigger": "none"}, steps=[send("d", "Fourth")])
    plan_make(
        slug="order",
        entry={"trigger": "keyword", "keywords": ["ORDER"]},
        steps=[
            send("a", "First", "b"),
            send("b", "Second", "c"),
            send("c", "Third", "go"),
            {"id": "go", "type": "enter_plan", "plan": "after"},
        ],
    )
    phones = [f"+1212555{n:04d}" for n in range(8)]
    with two_workers(settings, fake_twilio) as workers:
        for phone in phones:
            assert twilio.post("/twilio/sms/", inbound_payload(phone, "order")).status_code == 200
        done = wait_for(lambda: len(fake_twilio.received) >= 4 * len(phones), timeout=90)
        assert done, f"{len(fake_twilio.received)} texts sent {logs(*workers)}"
    for phone in phones:
        assert to(fake_twilio, phone) == ["First", "Second", "Third", "Fourth"], phone


def test_a_paced_sender_keeps_its_limit_and_a_reply_overtakes_the_campaign(
    settings, fake_twilio, twilio, client
):
    """30 campaign texts (an event enters each contact into a plan) on a sender limited to 5
    a second; then a contact texts in: the answer goes ahead of the campaign's backlog."""
    fake_twilio.latency = (0.0, 0.03)
    call_command("sender_set", SENDER, "--mps", "5")
    plan_make(slug="promo", entry={"trigger": "event", "event": "promo"}, steps=[send("p", "Promo")])
    plan_make(slug="hi", entry={"trigger": "keyword", "keywords": ["HI"]}, steps=[send("h", "Hello back")])
    auth = token_auth(api_user("shop", "tracking.add_interaction"))
    with two_workers(settings, fake_twilio) as workers:
        for n in range(30):
            event = {"event_id": f"e{n}", "phone": f"+1212556{n:04d}", "type": "promo", "opt_in": True}
            response = client.post("/api/events/", json.dumps(event), content_type="application/json", **auth)
            assert response.status_code == 201, response.content
        wait_for(lambda: len(fake_twilio.received) >= 3, timeout=30)  # the campaign is under way
        asked = time.perf_counter()
        assert twilio.post("/twilio/sms/", inbound_payload("+12125557777", "hi")).status_code == 200
        done = wait_for(lambda: len(fake_twilio.received) >= 31, timeout=60)
        assert done, f"{len(fake_twilio.received)} texts sent {logs(*workers)}"
    received = list(fake_twilio.received)
    reply = next(r for r in received if r["form"]["To"] == "+12125557777")
    assert reply["form"]["Body"] == "Hello back"
    campaign_after = sum(1 for r in received if r["form"]["Body"] == "Promo" and r["at"] > reply["at"])
    assert campaign_after >= 10, "the reply waited behind the campaign"
    assert reply["at"] - asked < 2.0
    assert most_in_one_second([r["at"] for r in received]) <= 5, [
        (round(r["at"] - received[0]["at"], 3), r["form"]["To"], r["form"]["Body"]) for r in received
    ]
    assert len({r["form"]["To"] for r in received}) == 31  # each once


def test_a_redis_crash_mid_campaign_loses_nothing_and_sends_nothing_twice(settings, fake_twilio):
    """The broker and the limiter are one Redis of the test's own, killed while 40 texts
    are being paced at 10 a second and started again (empty) two seconds later. What the
    workers held is lost with it; the leases and the release job (beat, every second here)
    find it again."""
    fake_twilio.latency = (0.0, 0.02)
    redis = RedisServer().start()
    try:
        call_command("sender_set", SENDER, "--mps", "10")
        sender = Sender.objects.get(address=SENDER)
        a_while_ago = timezone.now() - timedelta(minutes=1)
        for n in range(40):  # queued, never handed over: the release job starts them
            OutboundMessageFactory(
                contact=ContactFactory(phone=f"+1212558{n:04d}"),
                interaction__body=f"Campaign {n}",
                purpose=OutboundMessage.Purpose.BULK,
                sender=sender,
                lane=Lane.CAMPAIGN,
                status=DeliveryStatus.QUEUED,
                send_after=a_while_ago,
            )
        env = {
            **fake_twilio_env(fake_twilio),
            "CELERY_BROKER_URL": redis.url,
            "TWILIO_MESSAGING_SERVICE_SID": "",
            "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL,
            "SMSJOURNEY_TEST_LEASE_SECONDS": "2",
            "SMSJOURNEY_TEST_BEAT_SECONDS": "1",
        }
        queue = f"test-{uuid.uuid4().hex[:8]}"
        with (
            celery_worker(settings, queue=queue, threads=4, beat=True, **env) as one,
            celery_worker(settings, queue=queue, threads=4, **env) as two,
        ):
            assert wait_for(lambda: len(fake_twilio.received) >= 10, timeout=60), logs(one, two)
            redis.stop()
            time.sleep(2)  # the crash lasts: workers and beat lose their connections
            redis.start()
            done = wait_for(
                lambda: OutboundMessage.objects.filter(status=DeliveryStatus.ACCEPTED).count() == 40,
                timeout=90,
            )
            assert done, f"{len(fake_twilio.received)} texts sent {logs(one, two)}"
    finally:
        redis.stop()
    bodies = sorted(r["form"]["Body"] for r in fake_twilio.received)
    assert bodies == sorted(f"Campaign {n}" for n in range(40))  # every one, once
    assert most_in_one_second([r["at"] for r in fake_twilio.received]) <= 10
