"""Keeps sent messages in memory (`outbox`), for tests and the simulator."""

import threading
import uuid
from dataclasses import dataclass

from messaging.backends.base import BaseSmsBackend, SendResult


@dataclass(frozen=True)
class LocmemMessage:
    to: str
    body: str
    media_urls: tuple[str, ...]
    status_callback: str
    sid: str


# Every message "sent" in this process, oldest first (the `sms_outbox` test fixture).
outbox: list = []
_lock = threading.Lock()


class LocmemBackend(BaseSmsBackend):
    def send(
        self, *, to: str, body: str, media_urls: tuple[str, ...] = (), status_callback: str = ""
    ) -> SendResult:
        sid = "SM" + uuid.uuid4().hex
        with _lock:
            outbox.append(
                LocmemMessage(
                    to=to, body=body, media_urls=tuple(media_urls), status_callback=status_callback, sid=sid
                )
            )
        return SendResult(sid=sid, status="sent")
