"""A real Celery worker (another process) sends a queued message: Redis broker,
PostgreSQL, the twilio backend against a local fake Twilio server."""

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from contacts.tests.factories import ContactFactory
from messaging.models import DeliveryStatus, OutboundMessage
from messaging.services import outbound_enqueue, outbound_queue
from messaging.tests.fake_twilio import FakeTwilio
from smsjourney.celery import app

pytestmark = [
    pytest.mark.celery_broker,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The test database (pytest-django's `test_<name>`), as a URL for the worker."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def fake_twilio():
    server = FakeTwilio().start()
    yield server
    server.stop()


@pytest.fixture
def worker(fake_twilio, settings):
    """A worker consuming a queue of its own (so no other worker on the broker takes our task)."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
        "SECRET_KEY": "worker-test",
        "SMS_BACKEND": "twilio",
        "TWILIO_API_BASE_URL": fake_twilio.base_url,
        "TWILIO_ACCOUNT_SID": settings.TWILIO_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": settings.TWILIO_AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": settings.TWILIO_FROM_NUMBER,
        "TWILIO_MESSAGING_SERVICE_SID": "",
        "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL,
        "SMS_QUIET_HOURS": "",
        "DEBUG": "0",
    }
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(  # noqa: S603 (our own fixed command line)
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "smsjourney",
            "worker",
            "--pool=solo",
            "-c",
            "1",
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    # This process publishes (not eager) to the worker's queue.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    saved = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    try:
        yield proc, log
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = saved
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        # Let the worker's connections go before pytest-django drops the test database.
        connection.close()
        log.close()
        os.unlink(log.name)


def wait_for(predicate, *, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_real_worker_sends_a_queued_message_once(worker, fake_twilio):
    proc, log = worker
    contact = ContactFactory(phone="+12125550199")
    outbound = outbound_queue(  # autocommit: committed, then enqueued on the broker
        contact=contact, body="Sent by a real worker", purpose="prompt", answers_contact=True
    )
    outbound_enqueue(outbound_id=outbound.pk)  # a duplicated task must not send twice

    def sent() -> bool:
        return OutboundMessage.objects.get(pk=outbound.pk).status == DeliveryStatus.SENT

    ok = wait_for(sent)
    log.seek(0)
    assert ok, f"worker did not send it (exit {proc.poll()}):\n{log.read()[-4000:]}"
    outbound = OutboundMessage.objects.select_related("interaction").get(pk=outbound.pk)
    time.sleep(1.0)  # give a duplicate task the chance to (wrongly) send again
    assert len(fake_twilio.received) == 1
    request = fake_twilio.received[0]
    assert request["form"]["To"] == "+12125550199"
    assert request["form"]["Body"] == "Sent by a real worker"
    assert request["form"]["StatusCallback"] == f"https://sms.example.com/twilio/status/?id={outbound.pk}"
    assert outbound.interaction.provider_sid == request["sid"]
    assert outbound.attempts == 1
