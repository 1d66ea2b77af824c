"""The SMS backends, Twilio's API faked at the HTTP layer."""

import io
import json

import pytest
import requests
import responses

from conftest import TEST_ACCOUNT_SID
from messaging.backends import Outgoing, PermanentSendError, SendResult, TransientSendError, get_backend
from messaging.backends.console import ConsoleBackend
from messaging.backends.locmem import LocmemBackend
from messaging.backends.twilio import TwilioBackend, twilio_client
from messaging.tests.conftest import created, error, form, messages_url


def test_get_backend_reads_the_setting_at_call_time(settings):
    assert isinstance(get_backend(), LocmemBackend)  # the test settings
    settings.SMS_BACKEND = "messaging.backends.console.ConsoleBackend"
    assert isinstance(get_backend(), ConsoleBackend)
    assert isinstance(get_backend("messaging.backends.twilio.TwilioBackend"), TwilioBackend)


def test_locmem_keeps_messages_in_the_outbox(sms_outbox):
    result = get_backend().send(Outgoing(to="+12125550123", body="Hi"))
    assert result.sid.startswith("SM")
    assert result.status == "sent"  # no provider queue in between
    assert [(m.to, m.body, m.sid) for m in sms_outbox] == [("+12125550123", "Hi", result.sid)]


def test_console_prints_the_message():
    out = io.StringIO()
    result = ConsoleBackend(stream=out).send(
        Outgoing(
            to="+12125550123",
            body="Hello there",
            media_urls=("https://example.com/a.png",),
            status_callback="",
        )
    )
    text = out.getvalue()
    assert "+12125550123" in text
    assert "Hello there" in text
    assert "https://example.com/a.png" in text
    assert result.sid in text


def test_twilio_sends_with_the_official_client(twilio_api):
    twilio_api.add(responses.POST, messages_url(), **created(sid="SM" + "1" * 32, status="queued"))
    result = TwilioBackend().send(
        Outgoing(
            to="+12125550123",
            body="Hi there",
            media_urls=("https://example.com/a.png",),
            status_callback="https://sms.example.com/twilio/status/?id=7",
        )
    )
    assert result == SendResult(sid="SM" + "1" * 32, status="queued")
    (call,) = twilio_api.calls
    assert form(call) == {
        "To": "+12125550123",
        "From": "+14155550100",
        "Body": "Hi there",
        "MediaUrl": "https://example.com/a.png",
        "StatusCallback": "https://sms.example.com/twilio/status/?id=7",
    }
    assert call.request.headers["Authorization"].startswith("Basic ")


def test_twilio_uses_the_messaging_service_when_set(twilio_api, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "0" * 32
    twilio_api.add(responses.POST, messages_url(), **created())
    TwilioBackend().send(Outgoing(to="+12125550123", body="Hi"))
    sent = form(twilio_api.calls[0])
    assert sent["MessagingServiceSid"] == "MG" + "0" * 32
    assert "From" not in sent
    assert "StatusCallback" not in sent  # none given: none sent


@pytest.mark.parametrize(
    ("sender", "service", "setting", "expected"),
    [
        # A sender's address goes as From; its own Messaging Service instead when it has one.
        ("+14155550177", "", "", {"From": "+14155550177"}),
        ("whatsapp:+14155238886", "", "MG" + "0" * 32, {"From": "whatsapp:+14155238886"}),
        ("+14155550177", "MG" + "1" * 32, "MG" + "0" * 32, {"MessagingServiceSid": "MG" + "1" * 32}),
        # No sender, or the default's own number: the defaults of the settings.
        ("", "", "", {"From": "+14155550100"}),
        ("", "", "MG" + "0" * 32, {"MessagingServiceSid": "MG" + "0" * 32}),
        ("+14155550100", "", "MG" + "0" * 32, {"MessagingServiceSid": "MG" + "0" * 32}),
    ],
)
def test_twilio_sends_from_the_sender(twilio_api, settings, sender, service, setting, expected):
    settings.TWILIO_MESSAGING_SERVICE_SID = setting
    twilio_api.add(responses.POST, messages_url(), **created())
    TwilioBackend().send(Outgoing(to="+12125550123", body="Hi", sender=sender, messaging_service_sid=service))
    sent = form(twilio_api.calls[0])
    assert {k: v for k, v in sent.items() if k in ("From", "MessagingServiceSid")} == expected


def test_twilio_sends_a_template_as_content_sid_and_variables(twilio_api):
    twilio_api.add(responses.POST, messages_url(), **created())
    TwilioBackend().send(
        Outgoing(
            to="whatsapp:+12125550123",
            body="Hi Ann, your order shipped.",
            sender="whatsapp:+14155238886",
            content_sid="HX" + "a" * 32,
            content_variables={"1": "Ann", "2": 'ünïcode & "quotes"'},
        )
    )
    sent = form(twilio_api.calls[0])
    assert sent["ContentSid"] == "HX" + "a" * 32
    assert json.loads(sent["ContentVariables"]) == {"1": "Ann", "2": 'ünïcode & "quotes"'}
    assert (sent["To"], sent["From"]) == ("whatsapp:+12125550123", "whatsapp:+14155238886")
    assert "Body" not in sent  # the template goes instead of the text


def test_locmem_and_console_keep_the_sender_and_template(sms_outbox):
    LocmemBackend().send(Outgoing(to="whatsapp:+12125550123", body="Hi", sender="whatsapp:+14155238886",
                         content_sid="HX" + "a" * 32, content_variables={"1": "Ann"}))  # fmt: skip
    (sent,) = sms_outbox
    assert (sent.sender, sent.content_sid, sent.content_variables) == (
        "whatsapp:+14155238886", "HX" + "a" * 32, {"1": "Ann"}
    )  # fmt: skip
    out = io.StringIO()
    ConsoleBackend(stream=out).send(Outgoing(to="+12125550123", body="Hi", sender="+14155550177"))
    assert "to +12125550123 from +14155550177" in out.getvalue()


def test_twilio_calls_the_configured_base_url(twilio_api, settings):
    settings.TWILIO_API_BASE_URL = "http://twilio-proxy.internal:8080"
    twilio_api.add(responses.POST, messages_url("http://twilio-proxy.internal:8080"), **created())
    TwilioBackend().send(Outgoing(to="+12125550123", body="Hi"))
    assert twilio_api.calls[0].request.url == messages_url("http://twilio-proxy.internal:8080")


def test_twilio_client_is_reused_across_sends(settings):
    assert twilio_client() is twilio_client()
    settings.TWILIO_API_BASE_URL = "http://elsewhere.internal"
    assert twilio_client() is not twilio_client(timeout=1.0)


@pytest.mark.parametrize(
    "answer",
    [error(429, 20429, "Too Many Requests"), error(500, 20500, "Internal"), error(503, 503, "Unavailable")],
    ids=["429", "500", "503"],
)
def test_twilio_transient_http_errors(twilio_api, answer):
    twilio_api.add(responses.POST, messages_url(), **answer)
    with pytest.raises(TransientSendError):
        TwilioBackend().send(Outgoing(to="+12125550123", body="Hi"))


def test_twilio_5xx_without_json_is_transient(twilio_api):
    twilio_api.add(responses.POST, messages_url(), body="<html>Bad gateway</html>", status=502)
    with pytest.raises(TransientSendError):
        TwilioBackend().send(Outgoing(to="+12125550123", body="Hi"))


@pytest.mark.parametrize("exc", [requests.ConnectionError("refused"), requests.ReadTimeout("slow")])
def test_twilio_connection_errors_and_timeouts_are_transient(twilio_api, exc):
    twilio_api.add(responses.POST, messages_url(), body=exc)
    with pytest.raises(TransientSendError):
        TwilioBackend().send(Outgoing(to="+12125550123", body="Hi"))


def test_twilio_4xx_is_permanent_with_the_twilio_code(twilio_api):
    twilio_api.add(
        responses.POST, messages_url(), **error(400, 21211, "The 'To' number is not a valid phone number.")
    )
    with pytest.raises(PermanentSendError) as info:
        TwilioBackend().send(Outgoing(to="+12125550123", body="Hi"))
    assert info.value.code == "21211"
    assert "not a valid phone number" in info.value.message


def test_account_sid_is_in_the_url(twilio_api):
    twilio_api.add(responses.POST, messages_url(), **created())
    TwilioBackend().send(Outgoing(to="+12125550123", body="Hi"))
    assert f"/Accounts/{TEST_ACCOUNT_SID}/Messages.json" in twilio_api.calls[0].request.url


def test_twilio_rfc9457_errors_are_understood(twilio_api):
    body = {
        "type": "https://www.twilio.com/docs/errors/21211",
        "title": "Invalid 'To' Phone Number",
        "status": 400,
        "code": 21211,
        "detail": "The 'To' number +1555 is not a valid phone number.",
    }
    twilio_api.add(responses.POST, messages_url(), json=body, status=400)
    with pytest.raises(PermanentSendError) as info:
        TwilioBackend().send(Outgoing(to="+12125550123", body="Hi"))
    assert info.value.code == "21211"
