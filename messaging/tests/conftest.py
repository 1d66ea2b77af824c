"""Twilio's REST API faked at the HTTP layer: its URLs and answers (the `twilio_api` fixture
is in the root conftest.py)."""

import json
import uuid
from urllib.parse import parse_qs

import responses

from conftest import TEST_ACCOUNT_SID

TWILIO_BACKEND = "messaging.backends.twilio.TwilioBackend"


def messages_url(base: str = "https://api.twilio.com") -> str:
    return f"{base}/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Messages.json"


def form(call) -> dict:
    """What a call to the faked API posted (a `responses` call): its form fields."""
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def created(sid: str = "SM" + "a" * 32, status: str = "queued") -> dict:
    """Twilio's 201 answer to a message create."""
    return {
        "body": json.dumps(
            {"sid": sid, "status": status, "error_code": None, "account_sid": TEST_ACCOUNT_SID}
        ),
        "status": 201,
        "content_type": "application/json",
    }


def accept_all(rsps: responses.RequestsMock, url: str | None = None) -> None:
    """Twilio accepting every message create, each with a new sid."""

    def answer(request):
        sid = "SM" + uuid.uuid4().hex
        return 201, {}, json.dumps({"sid": sid, "status": "queued", "account_sid": TEST_ACCOUNT_SID})

    rsps.add_callback(responses.POST, url or messages_url(), callback=answer, content_type="application/json")


def error(status: int, code: int, message: str = "error") -> dict:
    """Twilio's 4xx/5xx error JSON."""
    return {
        "body": json.dumps({"code": code, "message": message, "more_info": "", "status": status}),
        "status": status,
        "content_type": "application/json",
    }
