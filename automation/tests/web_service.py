"""A marketer's web service for tests: a real HTTP server on 127.0.0.1 (plan `http` steps
call it with HTTP_STEP_ALLOW_PRIVATE=1). It records every request as it arrived (the
request line's path, headers, body) and answers with the test's `answer(handler, heard)`,
which may write anything to the socket: a slow drip, a garbled status line, half a body."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass
class Heard:
    method: str
    path: str  # as on the request line: still percent-encoded
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def drip(wfile, data: bytes, *, every: float, until: threading.Event, then_rest: bool = False) -> None:
    """Write `data` as a slow service does, a byte every `every` seconds, until `until` is set:
    then the rest at once (`then_rest`), or nothing more."""
    for i in range(len(data)):
        wfile.write(data[i : i + 1])
        wfile.flush()
        if until.wait(every):
            if then_rest:
                wfile.write(data[i + 1 :])
            return


def answer_json(payload, status: int = 200) -> Callable:
    def answer(handler: http.server.BaseHTTPRequestHandler, heard: Heard) -> None:
        body = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


@dataclass
class WebService:
    server: http.server.ThreadingHTTPServer
    heard: list[Heard] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)  # set when the test ends
    finished: list[Heard] = field(default_factory=list)  # answers written to the end

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@contextlib.contextmanager
def web_service(answer: Callable | None = None) -> Iterator[WebService]:
    """Serve `answer` (by default a 200 with {"ok": true}) until the block ends."""
    answer = answer or answer_json({"ok": True})
    holder: list[WebService] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            heard = Heard(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
            service = holder[0]
            service.heard.append(heard)
            try:
                answer(self, heard)
                self.wfile.flush()
                service.finished.append(heard)
            except OSError:
                pass  # the caller hung up (its deadline): nothing more to say
            self.close_connection = True

        do_GET = do_POST = _serve

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    service = WebService(server)
    holder.append(service)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield service
    finally:
        service.stop.set()
        server.shutdown()
        server.server_close()
