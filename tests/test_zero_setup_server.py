"""The zero-setup mode is the whole product (issue 9, point 9): with no broker, a real server
(gunicorn, two worker processes, SQLite) runs the periodic jobs, the sends and the retries
itself — no cron — and stops cleanly.

Twilio is a local fake HTTP server: the first send meets a 429, the retry a second later is
accepted. A message whose task was lost (queued long ago, never handed over) is sent by the
release job that the server runs on its own. Nothing is timed: the waits poll what the fake
Twilio received, bounded only so that a broken run ends."""

import signal

import pytest
from django.conf import settings as project_settings

from conftest import INVITE, inbound_payload
from tests.servers import log_tail, post_signed, wait_for, zero_setup_server

LOST = """
from datetime import timedelta
from django.utils import timezone
from contacts.models import Contact
from messaging.models import OutboundMessage
from tracking.models import Interaction
contact = Contact.objects.create(phone="+12125550177")
interaction = Interaction.objects.create(
    contact=contact, direction="outbound", body="Lost and found", created_at=timezone.now()
)
OutboundMessage.objects.create(
    interaction=interaction, contact=contact, purpose="bulk", to_number=contact.phone,
    status="queued", send_after=timezone.now() - timedelta(minutes=5),
)
"""


@pytest.fixture
def server(tmp_path, fake_twilio):
    def setup(manage):
        manage("load_demo_plan")
        manage("shell", stdin=LOST)

    with zero_setup_server(tmp_path, fake_twilio, setup=setup) as running:
        yield running


@pytest.mark.timeout(300)
def test_without_a_broker_the_server_retries_and_runs_its_jobs_by_itself(server, fake_twilio):
    port, proc, log = server
    fake_twilio.failures.append((429, 20429))  # the first send: too many requests

    assert post_signed(port, inbound_payload("+12125550123", "hello")) == 200

    def tries() -> list[dict]:  # the reply's tries, as the fake Twilio received them
        return [r for r in fake_twilio.received if r["form"].get("Body") == INVITE]

    def accepted() -> bool:
        return any(r["status"] == 201 for r in tries())

    # Bounded past the time the release job would take the message (its minutely run after
    # RELEASE_GRACE), so that a retry left to it fails on the assertion below, not here.
    assert wait_for(accepted, timeout=project_settings.OUTBOUND_RELEASE_GRACE.total_seconds() + 90), log_tail(
        log
    )
    assert [r["status"] for r in tries()] == [429, 201]
    refused, retried = tries()
    # The server scheduled the retry when Twilio refused, and its own scheduler ran it: the
    # release job takes a queued message only RELEASE_GRACE after its retry time, so it had
    # not taken this one when the retry reached Twilio.
    assert "transient error (attempt 1), retry in" in log_tail(log, tail=10**7)
    assert retried["at"] - refused["at"] < project_settings.OUTBOUND_RELEASE_GRACE.total_seconds(), (
        "retried by the release job"
    )

    # The message whose task was lost: the release job, run by the server itself.
    assert wait_for(lambda: "Lost and found" in fake_twilio.bodies(), timeout=30), log_tail(log)
    assert fake_twilio.bodies().count("Lost and found") == 1

    # Stops cleanly with the server.
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    output = log_tail(log, tail=10**7)
    assert output.count("in-process jobs started") == 2  # one scheduler per worker process
    assert output.count("in-process jobs stopped") == 2
    assert "Traceback" not in output
