"""Prints each message instead of sending it (the zero-setup default)."""

import sys
import threading
import uuid
from collections.abc import Mapping

from messaging.backends.base import BaseSmsBackend, SendResult

_lock = threading.Lock()


class ConsoleBackend(BaseSmsBackend):
    def __init__(self, *, timeout: float | None = None, stream=None) -> None:
        super().__init__(timeout=timeout)
        self.stream = stream

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
        stream = self.stream or sys.stdout
        origin = messaging_service_sid or sender
        lines = [f"SMS {sid} to {to}" + (f" from {origin}" if origin else ""), body]
        lines.extend(f"[media] {url}" for url in media_urls)
        if content_sid:
            lines.append(f"[template {content_sid}] {dict(content_variables or {})}")
        with _lock:
            stream.write("\n".join(lines) + "\n" + "-" * 40 + "\n")
            stream.flush()
        return SendResult(sid=sid, status="sent")
