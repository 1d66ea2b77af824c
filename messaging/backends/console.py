"""Prints each message instead of sending it (the zero-setup default)."""

import sys
import threading
import uuid

from messaging.backends.base import BaseSmsBackend, Outgoing, SendResult

_lock = threading.Lock()


class ConsoleBackend(BaseSmsBackend):
    def __init__(self, *, timeout: float | None = None, stream=None) -> None:
        super().__init__(timeout=timeout)
        self.stream = stream

    def send(self, message: Outgoing) -> SendResult:
        sid = "SM" + uuid.uuid4().hex
        stream = self.stream or sys.stdout
        origin = message.messaging_service_sid or message.sender
        lines = [f"SMS {sid} to {message.to}" + (f" from {origin}" if origin else ""), message.body]
        lines.extend(f"[media] {url}" for url in message.media_urls)
        if message.content_sid:
            lines.append(f"[template {message.content_sid}] {dict(message.content_variables)}")
        with _lock:
            stream.write("\n".join(lines) + "\n" + "-" * 40 + "\n")
            stream.flush()
        return SendResult(sid=sid, status="sent")
