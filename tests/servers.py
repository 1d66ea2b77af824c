"""Helpers for tests that start real servers of the product (gunicorn, Celery) in other
processes and talk to them over HTTP on 127.0.0.1 like Twilio and a browser would."""

import socket
import time
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from twilio.request_validator import RequestValidator

from conftest import TEST_AUTH_TOKEN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float) -> bool:
    """Poll `predicate` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def healthy(port: int) -> bool:
    try:
        with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def log_tail(log, tail: int = 6000) -> str:
    log.flush()
    log.seek(0)
    return log.read()[-tail:]


def post_signed(port: int, params: dict, path: str = "/twilio/sms/") -> int:
    """POST `params` as Twilio does, signed over the URL called; the status answered."""
    url = f"http://127.0.0.1:{port}{path}"
    signature = RequestValidator(TEST_AUTH_TOKEN).compute_signature(url, params)
    request = Request(
        url,
        data=urlencode(params).encode(),
        headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
    )
    with urlopen(request, timeout=10) as response:  # noqa: S310 - 127.0.0.1 only
        return response.status
