"""Keeps sent messages in memory (`outbox`), for tests and the simulator."""

import threading
import uuid
from dataclasses import asdict, dataclass

from messaging.backends.base import BaseSmsBackend, Outgoing, SendResult


@dataclass(frozen=True)
class LocmemMessage(Outgoing):
    """A message "sent": what was handed over, and the sid it got."""

    sid: str = ""


# Every message "sent" in this process, oldest first (the `sms_outbox` test fixture).
outbox: list = []
_lock = threading.Lock()


class LocmemBackend(BaseSmsBackend):
    def send(self, message: Outgoing) -> SendResult:
        sid = "SM" + uuid.uuid4().hex
        with _lock:
            outbox.append(LocmemMessage(**asdict(message), sid=sid))
        return SendResult(sid=sid, status="sent")
