"""Prints each message instead of sending it (the zero-setup default)."""

import sys
import threading
import uuid

from messaging.backends.base import BaseSmsBackend, SendResult

_lock = threading.Lock()


class ConsoleBackend(BaseSmsBackend):
    def __init__(self, *, timeout: float | None = None, stream=None) -> None:
        super().__init__(timeout=timeout)
        self.stream = stream

    def send(self, *, to: str, body: str, media_url: str = "", status_callback: str = "") -> SendResult:
        sid = "SM" + uuid.uuid4().hex
        stream = self.stream or sys.stdout
        lines = [f"SMS {sid} to {to}", body]
        if media_url:
            lines.append(f"[media] {media_url}")
        with _lock:
            stream.write("\n".join(lines) + "\n" + "-" * 40 + "\n")
            stream.flush()
        return SendResult(sid=sid, status="sent")
