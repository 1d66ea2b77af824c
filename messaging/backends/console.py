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

    def send(
        self, *, to: str, body: str, media_urls: tuple[str, ...] = (), status_callback: str = ""
    ) -> SendResult:
        sid = "SM" + uuid.uuid4().hex
        stream = self.stream or sys.stdout
        lines = [f"SMS {sid} to {to}", body]
        lines.extend(f"[media] {url}" for url in media_urls)
        with _lock:
            stream.write("\n".join(lines) + "\n" + "-" * 40 + "\n")
            stream.flush()
        return SendResult(sid=sid, status="sent")
