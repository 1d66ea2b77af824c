"""POST /twilio/status/ through the test client, signed like Twilio."""

import pytest
import responses

from conftest import inbound_payload
from contacts.tests.factories import ContactFactory
from messaging.models import DeliveryStatus, OutboundMessage
from messaging.services import delivery_status_apply, outbound_queue, outbound_send
from messaging.tests.conftest import created, messages_url
from tracking.models import Interaction

pytestmark = pytest.mark.django_db

# shared/fixtures/twilio/status_callback.json, as Twilio sends it.
FIXTURE = {
    "SmsSid": "SM89abcdef0123456789abcdef01234567",
    "SmsStatus": "undelivered",
    "MessageStatus": "undelivered",
    "ErrorCode": "30003",
    "To": "+12125550123",
    "MessageSid": "SM89abcdef0123456789abcdef01234567",
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "From": "+14155550100",
    "ApiVersion": "2010-04-01",
}


def callback(sid: str, status: str, **extra) -> dict:
    """A status callback payload shaped like shared/fixtures/twilio/status_callback.json."""
    return {
        "SmsSid": sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": "+12125550123",
        "MessageSid": sid,
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "From": "+14155550100",
        "ApiVersion": "2010-04-01",
        **extra,
    }


@pytest.fixture
def sent(sms_outbox):
    """An outbound message Twilio (locmem here) accepted: status sent, sid known."""
    outbound = outbound_queue(contact=ContactFactory(), body="Hi", purpose="prompt", answers_contact=True)
    outbound_send(outbound_id=outbound.pk)
    outbound.refresh_from_db()
    assert outbound.status == DeliveryStatus.SENT
    return outbound


def status_of(outbound) -> str:
    return OutboundMessage.objects.get(pk=outbound.pk).status


def test_delivered_is_applied(twilio, sent):
    response = twilio.post("/twilio/status/", callback(sent.interaction.provider_sid, "delivered"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert status_of(sent) == DeliveryStatus.DELIVERED


def test_a_late_sent_after_delivered_is_ignored(twilio, sent):
    sid = sent.interaction.provider_sid
    assert twilio.post("/twilio/status/", callback(sid, "delivered")).status_code == 200
    assert twilio.post("/twilio/status/", callback(sid, "sent")).status_code == 200
    assert twilio.post("/twilio/status/", callback(sid, "queued")).status_code == 200
    assert status_of(sent) == DeliveryStatus.DELIVERED


def test_undelivered_keeps_the_error_code(twilio, sent):
    response = twilio.post(
        "/twilio/status/", callback(sent.interaction.provider_sid, "undelivered", ErrorCode="30003")
    )
    assert response.status_code == 200
    outbound = OutboundMessage.objects.get(pk=sent.pk)
    assert outbound.status == DeliveryStatus.UNDELIVERED
    assert outbound.error_code == "30003"


def test_the_shared_fixture_payload_is_understood(twilio, sms_outbox):
    outbound = outbound_queue(contact=ContactFactory(), body="Hi", purpose="prompt", answers_contact=True)
    outbound_send(outbound_id=outbound.pk)
    payload = dict(FIXTURE)
    Interaction.objects.filter(pk=outbound.interaction_id).update(provider_sid=payload["MessageSid"])
    assert twilio.post("/twilio/status/", payload).status_code == 200
    outbound.refresh_from_db()
    assert (outbound.status, outbound.error_code) == (DeliveryStatus.UNDELIVERED, "30003")


def test_a_callback_before_the_sid_is_known_is_matched_by_our_id(twilio):
    outbound = outbound_queue(contact=ContactFactory(), body="Hi", purpose="prompt", answers_contact=True)
    OutboundMessage.objects.filter(pk=outbound.pk).update(status=DeliveryStatus.SENDING)  # call in flight
    sid = "SM" + "c" * 32
    response = twilio.post(f"/twilio/status/?id={outbound.pk}", callback(sid, "sent"))
    assert response.status_code == 200
    outbound = OutboundMessage.objects.select_related("interaction").get(pk=outbound.pk)
    assert outbound.status == DeliveryStatus.SENT
    assert outbound.interaction.provider_sid == sid
    # Later callbacks carry the same query string and are matched by the sid.
    assert twilio.post(f"/twilio/status/?id={outbound.pk}", callback(sid, "delivered")).status_code == 200
    assert status_of(outbound) == DeliveryStatus.DELIVERED


def test_our_id_never_steals_a_message_that_has_another_sid(twilio, sent):
    response = twilio.post(f"/twilio/status/?id={sent.pk}", callback("SM" + "d" * 32, "failed"))
    assert response.status_code == 200
    assert status_of(sent) == DeliveryStatus.SENT
    assert Interaction.objects.get(pk=sent.interaction_id).provider_sid == sent.interaction.provider_sid


def test_unknown_sid_is_acknowledged_and_changes_nothing(twilio, caplog):
    before = (OutboundMessage.objects.count(), Interaction.objects.count())
    response = twilio.post("/twilio/status/?id=999999", callback("SM" + "e" * 32, "delivered"))
    assert response.status_code == 200
    assert (OutboundMessage.objects.count(), Interaction.objects.count()) == before
    assert "unknown message" in caplog.text


def test_wrong_or_missing_signature_is_403_and_changes_nothing(twilio, client, sent):
    payload = callback(sent.interaction.provider_sid, "delivered")
    assert twilio.post("/twilio/status/", payload, signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    assert twilio.post("/twilio/status/", payload, token="0" * 32).status_code == 403
    assert client.post("/twilio/status/", payload).status_code == 403  # no signature at all
    assert status_of(sent) == DeliveryStatus.SENT


def test_the_signature_covers_the_query_string(twilio, sent):
    from conftest import twilio_signature

    payload = callback("SM" + "f" * 32, "delivered")
    # Signed for another id than the one posted to: refused.
    sig = twilio_signature(f"https://sms.example.com/twilio/status/?id={sent.pk + 1}", payload)
    response = twilio.post(f"/twilio/status/?id={sent.pk}", payload, signature=sig)
    assert response.status_code == 403


@pytest.mark.parametrize("missing", ["MessageSid", "MessageStatus"])
def test_missing_fields_are_400(twilio, sent, missing):
    payload = callback(sent.interaction.provider_sid, "delivered")
    del payload[missing]
    response = twilio.post("/twilio/status/", payload)
    assert response.status_code == 400
    assert missing in response.content.decode()
    assert status_of(sent) == DeliveryStatus.SENT


@pytest.mark.parametrize("query", ["?id=abc", "?id=%C2%B2", "?id=99999999999999999999999", "?id="])
def test_odd_ids_are_ignored_not_500(twilio, query):
    response = twilio.post(f"/twilio/status/{query}", callback("SM" + "0" * 32, "delivered"))
    assert response.status_code == 200


def test_get_is_not_allowed(client):
    assert client.get("/twilio/status/").status_code == 405


@pytest.mark.parametrize(
    ("twilio_status", "ours"),
    [
        ("accepted", DeliveryStatus.SENT),  # queued rank: no change from sent
        ("scheduled", DeliveryStatus.SENT),
        ("read", DeliveryStatus.READ),
        ("partially_delivered", DeliveryStatus.PARTIALLY_DELIVERED),
        ("queued", DeliveryStatus.SENT),
        ("sending", DeliveryStatus.SENT),
        ("failed", DeliveryStatus.FAILED),
        ("canceled", DeliveryStatus.CANCELED),
        ("received", DeliveryStatus.SENT),  # not an outbound status: ignored
        ("something-new", DeliveryStatus.SENT),
    ],
)
def test_twilio_statuses_map_onto_ours(sent, twilio_status, ours):
    assert delivery_status_apply(sid=sent.interaction.provider_sid, status=twilio_status).known is True
    assert status_of(sent) == ours


def test_unknown_message_is_false():
    assert delivery_status_apply(sid="SM" + "9" * 32, status="delivered").known is False
    assert delivery_status_apply(sid="SM" + "9" * 32, status="delivered", outbound_id=12345).known is False


def test_a_delivered_after_read_is_ignored(sent):
    for status in ("delivered", "read", "delivered", "sent"):
        delivery_status_apply(sid=sent.interaction.provider_sid, status=status)
    assert status_of(sent) == DeliveryStatus.READ


def test_a_message_twilio_queued_is_not_shown_sent_until_twilio_says_so(
    twilio, twilio_api, demo_plan, django_capture_on_commit_callbacks
):
    twilio_api.add(responses.POST, messages_url(), **created(sid="SM" + "7" * 32, status="queued"))
    with django_capture_on_commit_callbacks(execute=True):
        twilio.post("/twilio/sms/", inbound_payload("+12125550123", "hi"))
    outbound = OutboundMessage.objects.get()
    assert outbound.status == DeliveryStatus.ACCEPTED  # Twilio has it; it went nowhere yet
    twilio.post("/twilio/status/", callback("SM" + "7" * 32, "sending"))
    assert status_of(outbound) == DeliveryStatus.ACCEPTED
    twilio.post("/twilio/status/", callback("SM" + "7" * 32, "sent"))
    assert status_of(outbound) == DeliveryStatus.SENT


def test_error_21610_in_a_status_callback_opts_the_contact_out(twilio, sent):
    from automation.models import Enrollment
    from automation.tests.factories import EnrollmentFactory

    contact = sent.contact
    enrollment = EnrollmentFactory(contact=contact)
    response = twilio.post(
        "/twilio/status/",
        {"MessageSid": sent.interaction.provider_sid, "MessageStatus": "failed", "ErrorCode": "21610"},
    )
    assert response.status_code == 200
    sent.refresh_from_db()
    assert (sent.status, sent.error_code) == (DeliveryStatus.FAILED, "21610")
    contact.refresh_from_db()
    assert contact.opted_out
    event = contact.consent_events.get()
    assert (event.kind, event.source, event.detail) == ("opt_out", "carrier", "21610")
    assert Enrollment.objects.get(pk=enrollment.pk).status == Enrollment.Status.OPTED_OUT


@pytest.mark.parametrize("status", ["failed", "undelivered"])
def test_the_error_code_of_every_failed_or_undelivered_message_is_kept(twilio, sent, status):
    twilio.post(
        "/twilio/status/",
        {"MessageSid": sent.interaction.provider_sid, "MessageStatus": status, "ErrorCode": "30008"},
    )
    sent.refresh_from_db()
    assert (sent.status, sent.error_code) == (status, "30008")
