"""POST /twilio/sms/: every status code of docs/reference.md §3, through real Twilio signatures."""

import pytest

from conftest import TEST_PUBLIC_BASE_URL, inbound_payload, twilio_signature
from contacts.models import Contact
from tracking.models import Interaction

pytestmark = pytest.mark.django_db

PHONE = "+12125550123"
TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


def nothing_stored():
    return not Contact.objects.exists() and not Interaction.objects.exists()


def test_valid_message_is_answered_with_empty_twiml(twilio):
    response = twilio.post("/twilio/sms/", inbound_payload(PHONE, "hello"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert response.content == TWIML
    assert Interaction.objects.get().contact.phone == PHONE


def test_missing_signature_is_403_and_stores_nothing(client):
    from urllib.parse import urlencode

    response = client.post(
        "/twilio/sms/",
        data=urlencode(inbound_payload(PHONE, "hello")),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 403
    assert nothing_stored()


@pytest.mark.parametrize(
    "signature",
    [
        "not-a-signature",
        twilio_signature(TEST_PUBLIC_BASE_URL + "/twilio/sms/", {"other": "params"}),
        twilio_signature(
            "https://elsewhere.example.com/twilio/sms/", inbound_payload(PHONE, "hi", MessageSid="SMx")
        ),
    ],
    ids=["garbage", "other-params", "other-url"],
)
def test_wrong_signature_is_403_and_stores_nothing(twilio, signature):
    response = twilio.post(
        "/twilio/sms/", inbound_payload(PHONE, "hi", MessageSid="SMx"), signature=signature
    )
    assert response.status_code == 403
    assert nothing_stored()


def test_signature_with_another_auth_token_is_403(twilio):
    response = twilio.post("/twilio/sms/", inbound_payload(PHONE, "hello"), token="x" * 32)
    assert response.status_code == 403
    assert nothing_stored()


def test_tampered_body_is_403(client):
    from urllib.parse import urlencode

    params = inbound_payload(PHONE, "hello")
    signature = twilio_signature(TEST_PUBLIC_BASE_URL + "/twilio/sms/", params)
    params["Body"] = "STOP"
    response = client.post(
        "/twilio/sms/",
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )
    assert response.status_code == 403
    assert nothing_stored()


def test_query_string_is_part_of_the_signed_url(twilio):
    from conftest import TEST_PUBLIC_BASE_URL, twilio_signature

    assert twilio.post("/twilio/sms/?source=main", inbound_payload(PHONE, "hello")).status_code == 200
    # Signed over the URL without its query string: not what Twilio called, refused.
    payload = inbound_payload(PHONE, "again")
    unsigned_query = twilio_signature(TEST_PUBLIC_BASE_URL + "/twilio/sms/", payload)
    response = twilio.post("/twilio/sms/?source=main", payload, signature=unsigned_query)
    assert response.status_code == 403
    # … and signed over another query string: refused too.
    other = twilio_signature(TEST_PUBLIC_BASE_URL + "/twilio/sms/?source=other", payload)
    assert twilio.post("/twilio/sms/?source=main", payload, signature=other).status_code == 403
    assert Interaction.objects.count() == 1


def test_signature_check_can_be_switched_off_for_development(client, settings):
    from urllib.parse import urlencode

    settings.TWILIO_VALIDATE_SIGNATURE = False
    response = client.post(
        "/twilio/sms/",
        data=urlencode(inbound_payload(PHONE, "hello")),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert Interaction.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"MessageSid": ""}, b"MessageSid is missing."),
        ({"From": ""}, b"From is missing."),
        ({"From": "not a number"}, b"From is not a phone number."),
        ({"From": "+1555"}, b"From is not a phone number."),
        ({"From": "whatsapp:12125550123"}, b"From is not a phone number."),
        ({"From": "whatsapp:"}, b"From is not a phone number."),
        ({"From": "12345"}, b"From is not a phone number."),  # a short code
        ({"From": "ACME"}, b"From is not a phone number."),  # an alphanumeric sender
        ({"MessageSid": "SM" + "0" * 100}, b"MessageSid is too long."),
    ],
)
def test_unusable_payload_is_400_with_a_plain_reason(twilio, change, reason):
    payload = {**inbound_payload(PHONE, "hello"), **change}
    payload = {k: v for k, v in payload.items() if v != "" or k == "Body"}
    response = twilio.post("/twilio/sms/", payload)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == reason
    assert nothing_stored()


def test_get_is_405(client):
    assert client.get("/twilio/sms/").status_code == 405


def test_redelivered_message_sid_is_acknowledged_and_changes_nothing(
    twilio, django_capture_on_commit_callbacks
):
    first = inbound_payload(PHONE, "hello", MessageSid="SM11111111111111111111111111111111")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert twilio.post("/twilio/sms/", first).status_code == 200
    snapshot = list(Interaction.objects.values_list("pk", "body"))
    again = {**first, "Body": "something else"}
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = twilio.post("/twilio/sms/", again)
    assert response.status_code == 200
    assert response.content == TWIML
    assert list(Interaction.objects.values_list("pk", "body")) == snapshot
    assert callbacks == []


@pytest.mark.parametrize(
    "change",
    [
        {"Body": "nul\x00inside"},
        {"NumMedia": "lots", "MediaUrl0": "https://example.com/a"},
        {"NumMedia": "-3"},
        {"NumMedia": "99", "MediaUrl0": "https://example.com/a"},
        {"Body": "x" * 5000},
        {"Body": "😀 ñ 中文"},
    ],
)
def test_odd_but_signed_payloads_never_fail(twilio, change):
    response = twilio.post("/twilio/sms/", {**inbound_payload(PHONE, "hello"), **change})
    assert response.status_code == 200
    interaction = Interaction.objects.get()
    assert "\x00" not in interaction.body


def test_media_and_addresses_are_kept(twilio):
    payload = inbound_payload(
        PHONE, "", NumMedia="1", MediaUrl0="https://api.twilio.com/m/ME1", MediaContentType0="image/gif"
    )
    assert twilio.post("/twilio/sms/", payload).status_code == 200
    interaction = Interaction.objects.get()
    assert interaction.media == [{"url": "https://api.twilio.com/m/ME1", "content_type": "image/gif"}]
    assert (interaction.from_address, interaction.to_address) == (PHONE, "+14155550100")


def test_a_foreign_account_sid_is_refused_and_logged(twilio, caplog):
    payload = inbound_payload(PHONE, "hi", AccountSid="AC" + "f" * 32)
    response = twilio.post("/twilio/sms/", payload)  # signed with our token all the same
    assert response.status_code == 403
    assert not Interaction.objects.exists()
    assert "is not ours" in caplog.text
    status = twilio.post(
        "/twilio/status/", {"MessageSid": "SM1", "MessageStatus": "sent", "AccountSid": "ACx"}
    )
    assert status.status_code == 403


def test_without_public_base_url_the_request_url_is_used(client, settings):
    from urllib.parse import urlencode

    settings.PUBLIC_BASE_URL = ""
    params = inbound_payload(PHONE, "hello")
    response = client.post(
        "/twilio/sms/",
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=twilio_signature("http://testserver/twilio/sms/", params),
    )
    assert response.status_code == 200
