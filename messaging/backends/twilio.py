"""Sends through Twilio's REST API with the official SDK (`twilio.rest.Client`).

REST calls go to settings.TWILIO_API_BASE_URL (a staging proxy, or a fake in tests
and benchmarks): the SDK builds ``https://api.twilio.com/…`` URLs and our HTTP client
rewrites that origin. One client — one keep-alive HTTP session — per process and
configuration, reused across sends.
"""

import email.utils
import json
import threading
import time

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from messaging.backends.base import (
    BaseSmsBackend,
    Outgoing,
    PermanentSendError,
    SendResult,
    TransientSendError,
)

TWILIO_ORIGIN = "https://api.twilio.com"
DEFAULT_TIMEOUT = 5.0  # seconds, connect and read: a send never blocks a worker for long
POOL_MAXSIZE = 32  # kept-alive connections per host and process
TRANSIENT_HTTP_STATUSES = {408, 429}
TRANSIENT_TWILIO_CODES = {20429}  # too many requests


class BaseUrlHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client (requests session, keep-alive) with the REST origin
    replaced by `base_url`."""

    def __init__(self, *, base_url: str, timeout: float) -> None:
        base_url = base_url.rstrip("/")
        # Proxies from the environment (HTTPS_PROXY, NO_PROXY) are looked up once here
        # rather than by requests on every call (trust_env): a measurable share of a send.
        super().__init__(
            pool_connections=True, timeout=timeout, proxy=requests.utils.get_environ_proxies(base_url) or None
        )
        self.session.trust_env = False
        # One keep-alive connection per sending thread (a threads-pool worker runs many).
        for scheme in ("https://", "http://"):
            self.session.mount(scheme, HTTPAdapter(pool_connections=4, pool_maxsize=POOL_MAXSIZE))
        self.base_url = base_url

    def request(self, method, url, *args, **kwargs):
        if self.base_url and self.base_url != TWILIO_ORIGIN and url.startswith(TWILIO_ORIGIN):
            url = self.base_url + url[len(TWILIO_ORIGIN) :]
        response = super().request(method, url, *args, **kwargs)
        # The SDK's errors carry no headers: keep Retry-After for this thread's send (one
        # client serves many threads, so not on the shared client).
        _last.retry_after = retry_after_seconds((response.headers or {}).get("Retry-After"))
        return response


_last = threading.local()


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


_clients: dict[tuple, Client] = {}
_clients_lock = threading.Lock()


def twilio_client(*, timeout: float | None = None) -> Client:
    """The process's client for the current settings (built once, then reused)."""
    key = (
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        settings.TWILIO_API_BASE_URL or TWILIO_ORIGIN,
        timeout or DEFAULT_TIMEOUT,
    )
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                http_client = BaseUrlHttpClient(base_url=key[2], timeout=key[3])
                client = Client(key[0], key[1], http_client=http_client)
                # The SDK builds its API objects lazily, importing their modules on the first
                # send (~0.1 s): build them now, so that no first send goes late.
                if key[0]:
                    client.api.v2010.account.messages  # noqa: B018 (built for its side effect)
                _clients[key] = client
    return client


def _error_from(exc: TwilioException, *, retry_after: float | None = None) -> Exception:
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    message = str(getattr(exc, "msg", "") or getattr(exc, "detail", "") or getattr(exc, "title", "") or exc)
    try:
        status = int(status) if status is not None else None
    except (TypeError, ValueError):
        status = None
    try:
        code = int(code) if code is not None else None
    except (TypeError, ValueError):
        code = None
    if status is None or status >= 500 or status in TRANSIENT_HTTP_STATUSES or code in TRANSIENT_TWILIO_CODES:
        return TransientSendError(message, code=str(code or status or ""), retry_after=retry_after)
    return PermanentSendError(code or status, message)


class TwilioBackend(BaseSmsBackend):
    def __init__(self, *, timeout: float | None = None) -> None:
        super().__init__(timeout=timeout)
        twilio_client(timeout=timeout)  # built (or found) now, not during a paced send

    def send(self, message: Outgoing) -> SendResult:
        kwargs: dict = {"to": message.to}
        if message.content_sid:  # an approved template instead of the text
            kwargs["content_sid"] = message.content_sid
            if message.content_variables:
                kwargs["content_variables"] = json.dumps(dict(message.content_variables))
        else:
            kwargs["body"] = message.body
            if message.media_urls:
                kwargs["media_url"] = list(message.media_urls)
        # The sender's own Messaging Service, else its address. The default sender (none, or
        # the TWILIO_FROM_NUMBER one) goes through TWILIO_MESSAGING_SERVICE_SID when that is set.
        default = message.sender in ("", settings.TWILIO_FROM_NUMBER)
        service = message.messaging_service_sid or (settings.TWILIO_MESSAGING_SERVICE_SID if default else "")
        if service:
            kwargs["messaging_service_sid"] = service
        else:
            kwargs["from_"] = message.sender or settings.TWILIO_FROM_NUMBER
        if message.status_callback:
            kwargs["status_callback"] = message.status_callback
        client = twilio_client(timeout=self.timeout)
        _last.retry_after = None
        try:
            message = client.messages.create(**kwargs)
        except requests.RequestException as exc:  # timeouts, refused/reset connections
            raise TransientSendError(f"{type(exc).__name__}: {exc}") from exc
        except TwilioException as exc:
            raise _error_from(exc, retry_after=getattr(_last, "retry_after", None)) from exc
        return SendResult(sid=message.sid, status=message.status or "queued")
