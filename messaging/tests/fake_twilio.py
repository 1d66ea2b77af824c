"""A tiny local stand-in for Twilio's REST API, for tests that need a real HTTP server
(a Celery worker in another process) and for bench/send.py. Answers every
`POST /2010-04-01/Accounts/<sid>/Messages.json` with 201 and a new sid — or, first, with
the errors queued in `failures` (status, Twilio error code, headers), or for a number in
`refused` with its error — after a random `latency`; keep-alive on, Nagle off, one thread
per connection."""

import json
import random
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class FakeTwilioHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # TCP_NODELAY

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        server: FakeTwilio = self.server  # type: ignore[assignment]
        if not self.path.endswith("/Messages.json"):
            self._answer(404, {"code": 20404, "message": "Not found"})
            return
        sid = "SM" + uuid.uuid4().hex
        with server.lock:
            failure = server.failures.pop(0) if server.failures else server.refused.get(form.get("To"))
            status = failure[0] if failure else 201
            server.received.append(
                {"path": self.path, "form": form, "sid": sid, "at": time.perf_counter(), "status": status}
            )
        if server.latency[1]:
            time.sleep(random.uniform(*server.latency))
        if failure:
            code, headers = failure[1], failure[2] if len(failure) > 2 else {}
            self._answer(status, {"code": code, "message": "error", "status": status}, headers)
            return
        self._answer(201, {"sid": sid, "status": "queued", "to": form.get("To"), "body": form.get("Body")})

    def _answer(self, status: int, payload: dict, headers: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # quiet
        pass


class FakeTwilio(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        super().__init__((host, port), FakeTwilioHandler)
        self.received: list[dict] = []
        self.failures: list[tuple] = []  # (status, code[, headers]) answered first, in order
        self.refused: dict[str, tuple] = {}  # To → (status, code): every text to it answered so
        self.latency = (0.0, 0.0)  # seconds, min and max: how long each answer takes (random)
        self.lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def bodies(self) -> list[str]:
        """The texts it was asked to send, in the order the requests came (refused tries too)."""
        with self.lock:
            return [r["form"].get("Body", "") for r in self.received]

    def start(self) -> "FakeTwilio":
        self._thread = threading.Thread(target=self.serve_forever, name="fake-twilio", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
