"""``GET /metrics`` (docs/reference.md §9) through the test client: the token, every figure of the
contract with its type and labels (read with prometheus-client's own parser), and the
figures moving as contacts, shops and Twilio drive the product through its doors — the
signed webhooks, the events API, sends to Twilio's REST API faked at the HTTP layer, the
jobs' commands. (Two processes seeing the same totals: tests/test_operations_server.py.)"""

import json
from datetime import timedelta

import pytest
import responses
import time_machine
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from automation.tasks import enrollment_expire_due_task
from conftest import api_user, command, inbound_payload, token_auth
from infra.metrics import SNAPSHOT_SECONDS
from messaging.models import DeliveryStatus, Lane
from messaging.senders import sender_save
from messaging.tests.conftest import accept_all, created, error, messages_url
from messaging.tests.factories import OutboundMessageFactory
from messaging.tests.test_apis import callback
from tracking.tests.factories import InteractionFactory

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-0123456789"

# docs/reference.md §9 (CONTRACT §9): name → (type, labels).
CONTRACT = {
    "smsjourney_inbound_messages": ("counter", {"channel"}),
    "smsjourney_events": ("counter", set()),
    "smsjourney_outbound_messages": ("counter", {"status"}),
    "smsjourney_twilio_errors": ("counter", {"code"}),
    "smsjourney_unrouted_messages": ("gauge", set()),
    "smsjourney_routing_lag_seconds": ("gauge", set()),
    "smsjourney_outbound_waiting": ("gauge", {"reason"}),
    "smsjourney_enrollments": ("gauge", {"status"}),
    "smsjourney_reply_seconds": ("histogram", set()),
    "smsjourney_job_last_success_timestamp_seconds": ("gauge", {"job"}),
}


@pytest.fixture
def scrape(client, settings):
    """Read /metrics as Prometheus does: ``scrape()`` → {family name: family}."""
    settings.METRICS_TOKEN = TOKEN

    def read():
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain; version=")
        return {f.name: f for f in text_string_to_metric_families(response.content.decode())}

    return read


def value(families, name: str, sample: str | None = None, **labels) -> float:
    """The value of `name`'s sample (its `_total`, `_count`… when `sample` says) with exactly
    `labels`; 0 when the family has no such sample (a Twilio code never seen)."""
    wanted = sample or name
    for s in families[name].samples:
        if s.name == wanted and s.labels == labels:
            return s.value
    return 0.0


def total(families, name: str, **labels) -> float:
    return value(families, name, f"{name}_total", **labels)


def test_not_served_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404


def test_only_the_bearer_token_opens_it(client, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    for header in (f"Bearer {TOKEN}x", "Bearer ", f"Token {TOKEN}", TOKEN, f"Basic {TOKEN}"):
        response = client.get("/metrics", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, header
        assert b"smsjourney_" not in response.content
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"bearer {TOKEN}").status_code == 200
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def test_every_figure_of_the_contract_with_its_type_and_labels(scrape, demo_plan, twilio_api, text_in):
    twilio_api.add(responses.POST, messages_url(), **error(400, 21211, "invalid To"))
    text_in("+12125550101", "hi")  # its answer fails: a Twilio code is counted
    families = scrape()
    for name, (kind, labels) in CONTRACT.items():
        assert name in families, name
        family = families[name]
        assert family.type == kind, name
        assert family.samples, name
        for sample in family.samples:
            extra = {"le"} if sample.name.endswith("_bucket") else set()
            assert set(sample.labels) == labels | extra, (name, sample)
    assert {s.labels["status"] for s in families["smsjourney_enrollments"].samples} == {
        "active", "completed", "expired", "opted_out", "exited", "failed",
    }  # fmt: skip
    assert {s.labels["reason"] for s in families["smsjourney_outbound_waiting"].samples} == {
        "queued", "held", "paced", "retrying",
    }  # fmt: skip
    assert {s.labels["job"] for s in families["smsjourney_job_last_success_timestamp_seconds"].samples} == {
        "route-waiting-inbound", "process-timeouts", "expire-enrollments", "send-due-messages", "report-days",
    }  # fmt: skip
    # The send pipeline's queue per sender and lane, and the senders Twilio slowed down.
    assert {tuple(sorted(s.labels.items())) for s in families["smsjourney_sender_waiting"].samples} == {
        (("lane", "reply"), ("sender", "+14155550100")),
        (("lane", "campaign"), ("sender", "+14155550100")),
    }
    assert families["smsjourney_sender_throttled"].type == "gauge"


def test_messages_events_and_sends_are_counted(
    scrape, demo_plan, twilio_api, text_in, twilio, client, django_capture_on_commit_callbacks
):
    accept_all(twilio_api)
    shop = api_user("shop", "tracking.add_interaction")
    before = scrape()

    text_in("+12125550102", "hi")  # stored, routed, answered: Twilio accepts the invitation
    payload = inbound_payload("+12125550102", "QUOTE")
    text_in("+12125550102", "QUOTE", MessageSid=payload["MessageSid"])
    assert twilio.post("/twilio/sms/", payload).status_code == 200  # Twilio's redelivery: not counted
    text_in("whatsapp:+12125550103", "hi", To="whatsapp:+14155550100")
    event = json.dumps({"event_id": "order-1", "phone": "+12125550102", "type": "purchase"})
    for _ in range(2):  # the same event again is a duplicate
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/events/", data=event, content_type="application/json", **token_auth(shop)
            )
        assert response.status_code in (200, 201)

    # The count by status is read at most every SNAPSHOT_SECONDS (kept in the shared store).
    with time_machine.travel(timezone.now() + timedelta(seconds=SNAPSHOT_SECONDS + 1)):
        after = scrape()
    assert total(after, "smsjourney_inbound_messages", channel="sms") == (
        total(before, "smsjourney_inbound_messages", channel="sms") + 2
    )
    assert total(after, "smsjourney_inbound_messages", channel="whatsapp") == (
        total(before, "smsjourney_inbound_messages", channel="whatsapp") + 1
    )
    assert total(after, "smsjourney_events") == total(before, "smsjourney_events") + 1
    sent = len(twilio_api.calls)
    assert sent == 3  # the invitation, the quote, the WhatsApp invitation
    assert total(after, "smsjourney_outbound_messages", status="sent") == (
        total(before, "smsjourney_outbound_messages", status="sent") + sent
    )
    # Each of the three messages was answered once: three replies timed, none slower than the test.
    count = value(after, "smsjourney_reply_seconds", "smsjourney_reply_seconds_count")
    assert count == value(before, "smsjourney_reply_seconds", "smsjourney_reply_seconds_count") + 3
    inf = value(after, "smsjourney_reply_seconds", "smsjourney_reply_seconds_bucket", le="+Inf")
    assert inf == count
    assert value(after, "smsjourney_enrollments", status="active") == 2


def test_failures_retries_and_twilio_codes_are_counted(
    scrape, demo_plan, twilio_api, text_in, twilio, django_capture_on_commit_callbacks
):
    # Twilio's answers, in turn: accepted, 21211 (permanent), 429 (transient, back off).
    twilio_api.add(responses.POST, messages_url(), **created(sid="SM" + "d" * 32))
    twilio_api.add(responses.POST, messages_url(), **error(400, 21211, "invalid To"))
    twilio_api.add(
        responses.POST, messages_url(), status=429, headers={"Retry-After": "30"},
        json={"code": 20429, "message": "Too Many Requests", "status": 429},
    )  # fmt: skip
    before = scrape()
    text_in("+12125550106", "hi")
    # A status callback's ErrorCode counts once, however often Twilio repeats the callback.
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            answer = twilio.post(
                "/twilio/status/", callback("SM" + "d" * 32, "undelivered", ErrorCode="30003")
            )
        assert answer.status_code == 200
    text_in("+12125550104", "hi")  # its answer fails for good
    text_in("+12125550105", "hi")  # its answer is tried again later; the sender backs off
    after = scrape()
    assert total(after, "smsjourney_outbound_messages", status="failed") == (
        total(before, "smsjourney_outbound_messages", status="failed") + 1
    )
    assert total(after, "smsjourney_outbound_messages", status="retried") == (
        total(before, "smsjourney_outbound_messages", status="retried") + 1
    )
    for code in ("21211", "20429", "30003"):
        assert total(after, "smsjourney_twilio_errors", code=code) == (
            total(before, "smsjourney_twilio_errors", code=code) + 1
        ), code
    assert value(after, "smsjourney_outbound_waiting", reason="retrying") == 1
    assert value(after, "smsjourney_sender_throttled", sender="+14155550100") == 1


def test_the_gauges_read_what_waits_now(scrape, settings):
    now = timezone.now()
    families = scrape()
    assert value(families, "smsjourney_unrouted_messages") == 0
    assert value(families, "smsjourney_routing_lag_seconds") == 0
    InteractionFactory(created_at=now - timedelta(seconds=90), routed_at=None)
    InteractionFactory(created_at=now - timedelta(seconds=5), routed_at=None)
    InteractionFactory(created_at=now - timedelta(hours=3), routed_at=None, route_failed_at=now)  # given up
    OutboundMessageFactory(status=DeliveryStatus.HELD, send_after=now + timedelta(hours=8))
    OutboundMessageFactory(status=DeliveryStatus.QUEUED)
    OutboundMessageFactory(status=DeliveryStatus.QUEUED, attempts=2)  # after a transient error
    paced = sender_save(address="12345", mps=100, name="Campaign short code")
    OutboundMessageFactory(status=DeliveryStatus.QUEUED, sender=paced)
    OutboundMessageFactory(status=DeliveryStatus.QUEUED, sender=paced, lane=Lane.REPLY)
    OutboundMessageFactory(status=DeliveryStatus.SENT)  # gone: not waiting
    families = scrape()
    assert value(families, "smsjourney_unrouted_messages") == 2
    assert 90 <= value(families, "smsjourney_routing_lag_seconds") < 120
    waiting = {s.labels["reason"]: s.value for s in families["smsjourney_outbound_waiting"].samples}
    assert waiting == {"queued": 1, "held": 1, "paced": 2, "retrying": 1}
    assert value(families, "smsjourney_sender_waiting", sender="12345", lane="campaign") == 1
    assert value(families, "smsjourney_sender_waiting", sender="12345", lane="reply") == 1
    assert value(families, "smsjourney_sender_mps", sender="12345") == 100


def test_each_periodic_job_reports_its_last_success(scrape, django_capture_on_commit_callbacks):
    families = scrape()
    assert value(families, "smsjourney_job_last_success_timestamp_seconds", job="process-timeouts") == 0
    started = timezone.now().timestamp()
    command("process_timeouts")  # cron's way
    command("process_timeouts", "--dry-run")  # a dry run is no run
    enrollment_expire_due_task.apply()  # beat's (and the in-process scheduler's) way
    with django_capture_on_commit_callbacks(execute=True):
        command("send_due_messages", "--for", "0")
    command("route_waiting_messages")
    families = scrape()
    for job in ("process-timeouts", "expire-enrollments", "send-due-messages", "route-waiting-inbound"):
        at = value(families, "smsjourney_job_last_success_timestamp_seconds", job=job)
        assert started - 1 <= at <= timezone.now().timestamp(), job
    assert value(families, "smsjourney_job_last_success_timestamp_seconds", job="report-days") == 0


def test_served_without_the_counters_when_their_store_does_not_answer(client, settings, caplog):
    settings.METRICS_TOKEN = TOKEN
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens there: Redis is away
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    names = {f.name for f in text_string_to_metric_families(response.content.decode())}
    assert "smsjourney_unrouted_messages" in names and "smsjourney_enrollments" in names
    assert "smsjourney_inbound_messages" not in names
    assert "the counters' store does not answer" in caplog.text
