"""One HTTP request of a plan `http` step, bounded in every way a web service could stretch
it (docs/reference.md §6, issue 18).

- **One total deadline.** A socket timeout bounds each read, not the call: a server that
  sends a byte every 5 s keeps a 10 s read timeout waiting for days. So a watchdog thread
  shuts the call's sockets down when the deadline passes; a connect, a TLS handshake, a
  status line, a header or a body read blocked on them returns at once, and the call
  fails ("no complete answer within 10 s"), whatever was read by then.
- **Only public addresses** (unless HTTP_STEP_ALLOW_PRIVATE=1): requests-hardened
  (Saleor's) resolves the name once, refuses a private answer and pins the connection to
  it (TLS still verified against the name), so DNS rebinding reaches nothing inside.
- **No redirects; at most MAX_ANSWER_BYTES read.**
- **Every transport error is a failure** (``HttpFailed``), never an exception of
  requests, urllib3, http.client or the socket escaping to the caller.

Not bounded by the deadline: resolving the name (the system resolver's own timeouts,
a few seconds per name server).
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import threading
import time
from dataclasses import dataclass

import requests
import urllib3
from requests_hardened import Config, Manager
from urllib3 import poolmanager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager

logger = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 64 * 1024
_SHUTDOWN_EVERY = 0.05  # after the deadline, the watchdog closes new sockets this often


class HttpFailed(Exception):
    """The call failed; the message says why, for the step history."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes | None  # None: longer than MAX_ANSWER_BYTES (not kept)


class _Deadline:
    """The wall-clock bound of one call: the connections it opens register here (from the
    calling thread); when `seconds` have passed, a watchdog thread shuts their sockets
    down (again and again, until the call returns, for a socket opened meanwhile)."""

    _current = threading.local()

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self.connections: list[HTTPConnection] = []
        self._done = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="http-step-deadline", daemon=True)

    @classmethod
    def current(cls) -> _Deadline | None:
        return getattr(cls._current, "deadline", None)

    def __enter__(self) -> _Deadline:
        self._current.deadline = self
        self._watchdog.start()
        return self

    def __exit__(self, *exc) -> None:
        self._current.deadline = None
        self._done.set()
        self._watchdog.join()

    def _watch(self) -> None:
        if self._done.wait(max(self.at - time.monotonic(), 0)):
            return
        self.expired = True
        while True:
            for connection in list(self.connections):
                sock = connection.sock
                if sock is not None:
                    # The socket's own shutdown, under TLS too: a blocked read returns. It may
                    # be closed already, or not connected yet (OSError).
                    with contextlib.suppress(OSError):
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)
            if self._done.wait(_SHUTDOWN_EVERY):
                return


class _Registered:
    """A urllib3 connection that registers with the call's deadline as it is made."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        deadline = _Deadline.current()
        if deadline is not None:
            deadline.connections.append(self)


class _HTTPConnection(_Registered, HTTPConnection):
    pass


class _HTTPSConnection(_Registered, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


def _pools_watched(manager: PoolManager) -> PoolManager:
    """`manager` (a session's, or a plain HTTP proxy's) making connections that register
    with the deadline. A SOCKS proxy's own connections are left as they are."""
    if manager.pool_classes_by_scheme is poolmanager.pool_classes_by_scheme:
        manager.pool_classes_by_scheme = _POOLS
    return manager


def _adapter_watched(adapter) -> None:
    _pools_watched(adapter.poolmanager)
    make = adapter.proxy_manager_for
    adapter.proxy_manager_for = lambda *args, **kwargs: _pools_watched(make(*args, **kwargs))


def _manager(*, public_only: bool) -> Manager:
    return Manager(
        Config(
            ip_filter_enable=public_only,
            ip_filter_allow_loopback_ips=False,
            never_redirect=True,
            default_timeout=(10, 10),  # always given one per call (the time left)
        )
    )


_PUBLIC_ONLY = _manager(public_only=True)  # connects only to the public address it checked
_OPEN = _manager(public_only=False)  # HTTP_STEP_ALLOW_PRIVATE=1

# Whatever the transport may raise. requests wraps most of urllib3's errors, but not those of
# reading a streamed body (urllib3's ProtocolError, DecodeError …); http.client's own
# (a status line or header it cannot read); the socket's (OSError, ssl.SSLError); a header
# value it cannot encode (ValueError).
TRANSPORT_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
    ValueError,
)


def http_request_send(
    *, method: str, url: str, json_body, headers: dict[str, str], public_only: bool, seconds: float
) -> HttpAnswer:
    """Send one request and read its answer, within `seconds` in all; raise HttpFailed."""
    manager = _PUBLIC_ONLY if public_only else _OPEN
    with _Deadline(seconds) as deadline:
        try:
            return _send(manager, deadline, method=method, url=url, json_body=json_body, headers=headers)
        except TRANSPORT_ERRORS as exc:
            if deadline.expired:
                raise HttpFailed(f"no complete answer within {seconds:g} s") from exc
            raise HttpFailed(_said(exc)) from exc
        except Exception as exc:  # a transport error of a kind not listed: still only a failure
            logger.exception("http step: unexpected error calling %s", url[:100])
            raise HttpFailed(_said(exc)) from exc


def _send(manager: Manager, deadline: _Deadline, *, method, url, json_body, headers) -> HttpAnswer:
    with manager.get_session() as session:
        for adapter in session.adapters.values():
            _adapter_watched(adapter)
        timeout = max(deadline.at - time.monotonic(), 0.001)
        response = session.request(
            method,
            url,
            json=json_body,
            headers=headers,
            timeout=(timeout, timeout),
            allow_redirects=False,
            stream=True,
        )
        try:
            raw = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
        finally:
            response.close()
    if deadline.expired:  # what was read may be cut short: a shut socket reads as the end
        raise HttpFailed(f"no complete answer within {deadline.seconds:g} s")
    return HttpAnswer(status=response.status_code, body=raw if len(raw) <= MAX_ANSWER_BYTES else None)


def _said(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:300]
