"""SMS backends behind one small interface, chosen by settings.SMS_BACKEND (like EMAIL_BACKEND).

    backend = get_backend()
    result = backend.send(Outgoing(to="+1…", body="Hi", status_callback="https://…"))

`send` returns a `SendResult(sid, status)` or raises `TransientSendError` (retry later)
or `PermanentSendError(code, message)` (record it, act on the code, never retry).
"""

from django.conf import settings
from django.utils.module_loading import import_string

from messaging.backends.base import (
    BaseSmsBackend,
    Outgoing,
    PermanentSendError,
    SendError,
    SendResult,
    TransientSendError,
)

LOCMEM_BACKEND = "messaging.backends.locmem.LocmemBackend"


def get_backend(path: str | None = None, *, timeout: float | None = None) -> BaseSmsBackend:
    """An instance of `path` (default: settings.SMS_BACKEND, read at call time)."""
    cls = import_string(path or settings.SMS_BACKEND)
    return cls(timeout=timeout)


__all__ = [
    "LOCMEM_BACKEND",
    "BaseSmsBackend",
    "Outgoing",
    "PermanentSendError",
    "SendError",
    "SendResult",
    "TransientSendError",
    "get_backend",
]
