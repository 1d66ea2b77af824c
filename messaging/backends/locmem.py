"""Keeps sent messages in memory (`outbox`), for tests and the simulator."""

import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from messaging.backends.base import BaseSmsBackend, SendResult


@dataclass(frozen=True)
class LocmemMessage:
    to: str
    body: str
    media_urls: tuple[str, ...]
    status_callback: str
    sid: str
    sender: str = ""  # "": the default sender
    messaging_service_sid: str = ""
    content_sid: str = ""
    content_variables: Mapping[str, str] = field(default_factory=dict)


# Every message "sent" in this process, oldest first (the `sms_outbox` test fixture).
outbox: list = []
_lock = threading.Lock()


class LocmemBackend(BaseSmsBackend):
    def send(
        self,
        *,
        to: str,
        body: str,
        media_urls: tuple[str, ...] = (),
        status_callback: str = "",
        sender: str = "",
        messaging_service_sid: str = "",
        content_sid: str = "",
        content_variables: Mapping[str, str] | None = None,
    ) -> SendResult:
        sid = "SM" + uuid.uuid4().hex
        with _lock:
            outbox.append(
                LocmemMessage(
                    to=to,
                    body=body,
                    media_urls=tuple(media_urls),
                    status_callback=status_callback,
                    sid=sid,
                    sender=sender,
                    messaging_service_sid=messaging_service_sid,
                    content_sid=content_sid,
                    content_variables=dict(content_variables or {}),
                )
            )
        return SendResult(sid=sid, status="sent")
