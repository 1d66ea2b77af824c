"""What ``bench/campaign.py`` does over HTTP, as people do it: a marketer in the admin (log
in, upload a CSV segment of a plan) and contacts texting the webhook, signed like Twilio;
and the arithmetic of what the fake Twilio received (the busiest second, percentiles)."""

from __future__ import annotations

import http.client
import random
import re
import threading
import time
import uuid
from urllib.parse import urlencode

from bench.common import http_request
from bench.twilio_traffic import Signer, payload, signed_post

WEBHOOK = "/twilio/sms/"


class AdminSession:
    """A browser's session in the admin over plain HTTP: cookies kept by hand (the
    production settings mark them Secure, which a cookie jar would not send over HTTP),
    the CSRF token read from each form."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, *, body: bytes = b"", headers: dict | None = None, timeout: float = 900
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            conn.request(method, path, body=body or None, headers={"Cookie": cookie, **(headers or {})})
            response = conn.getresponse()
            data = response.read()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key.strip()] = rest.split(";", 1)[0]
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()

    def _token(self, path: str) -> str:
        status, _, body = self.request("GET", path)
        found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        if status != 200 or not found:
            raise RuntimeError(f"GET {path}: {status}, no form")
        return found.group(1).decode()

    def login(self, username: str, password: str) -> None:
        token = self._token("/admin/login/")
        form = {"username": username, "password": password, "csrfmiddlewaretoken": token, "next": "/admin/"}
        status, _, _ = self.request(
            "POST",
            "/admin/login/?next=/admin/",
            body=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"admin login answered {status}")

    def upload(self, path: str, *, field: str, filename: str, content: bytes) -> tuple[int, str]:
        """Submit the form at `path` with one file; (status, the redirect's location)."""
        token = self._token(path)
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'.encode()
            + f"{token}\r\n".encode(),
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                "Content-Type: text/csv\r\n\r\n"
            ).encode()
            + content
            + b"\r\n",
            f"--{boundary}--\r\n".encode(),
        ]
        status, headers, _ = self.request(
            "POST",
            path,
            body=b"".join(parts),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        return status, headers.get("location", "")


class Conversation(threading.Thread):
    """One contact texting `keyword` to the webhook every `interval` seconds (random within
    the bounds, a random start), until `stop` is set; keeps when each message that was
    answered 200 was posted (``perf_counter``, the fake Twilio's clock)."""

    def __init__(
        self, *, port: int, phone: str, keyword: str, interval: tuple[float, float], stop, seed: int
    ):
        super().__init__(name=f"conversation-{phone}", daemon=True)
        self.port, self.phone, self.keyword, self.interval, self.stop = port, phone, keyword, interval, stop
        self.rng = random.Random(seed)
        self.sign = Signer()
        self.posted: list[float] = []
        self.failures: list[str] = []

    def run(self) -> None:
        self.stop.wait(self.rng.uniform(0, self.interval[0]))
        while not self.stop.is_set():
            params = payload(self.phone, self.keyword)
            raw = signed_post(self.port, WEBHOOK, params, self.sign(WEBHOOK, params))
            at = time.perf_counter()
            try:
                status, _ = http_request(self.port, raw)
            except OSError as exc:
                self.failures.append(repr(exc))
            else:
                if status == 200:
                    self.posted.append(at)
                else:
                    self.failures.append(str(status))
            self.stop.wait(self.rng.uniform(*self.interval))


def most_in_one_second(stamps: list[tuple[float, int]]) -> tuple[int, float]:
    """The most units (segments) whose arrival times fall in any one-second window
    [t, t + 1), and the t of the first such window. `stamps`: (time, units)."""
    stamps = sorted(stamps)
    best, best_at, inside, j = 0, 0.0, 0, 0
    for i, (start, _) in enumerate(stamps):
        while j < len(stamps) and stamps[j][0] < start + 1.0:
            inside += stamps[j][1]
            j += 1
        if inside > best:
            best, best_at = inside, start
        inside -= stamps[i][1]
    return best, best_at


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile (p from 0 to 100); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]
