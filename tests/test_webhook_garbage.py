"""No 500 from any input: signed webhooks carrying garbage get a clear 4xx or are
acknowledged, and never crash (docs/reference.md §3). Run on PostgreSQL in CI, which refuses
some text SQLite accepts (NUL characters)."""

import random
import string
from urllib.parse import quote

import pytest

from automation.engine import plan_load_demo
from conftest import inbound_payload

pytestmark = pytest.mark.django_db

ALPHABET = string.printable + "\x00\u00e9\u202e\U0001f600"


def garbage(r: random.Random) -> str:
    return "".join(r.choice(ALPHABET) for _ in range(r.randint(0, 40)))


def test_signed_garbage_never_crashes_either_webhook(twilio, django_capture_on_commit_callbacks):
    plan_load_demo()
    r = random.Random(7)  # deterministic: a failure reproduces
    for _ in range(300):
        sender = r.choice(["+12125550123", "+442079460000", garbage(r), f"+1{r.randint(0, 10**12)}"])
        payload = inbound_payload(sender, garbage(r))
        for name in r.sample(sorted(set(payload) - {"AccountSid"}), r.randint(0, 3)):
            payload[name] = garbage(r)
        if r.random() < 0.2:
            payload.pop("MessageSid")
        with django_capture_on_commit_callbacks(execute=True):
            response = twilio.post("/twilio/sms/", payload)
        assert response.status_code in (200, 400), (payload, response.content)

        query = quote(garbage(r), safe="")  # URLs go out percent-encoded, and are signed so
        status = {"MessageSid": garbage(r), "MessageStatus": garbage(r), "ErrorCode": garbage(r)}
        response = twilio.post(f"/twilio/status/?id={query}", status)
        assert response.status_code in (200, 400), (query, status, response.content)


def test_a_status_callback_with_a_nul_character_is_acknowledged(twilio):
    response = twilio.post("/twilio/status/", {"MessageSid": "SM\x00abc", "MessageStatus": "delivered"})
    assert response.status_code == 200
