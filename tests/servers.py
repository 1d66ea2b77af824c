"""Helpers for tests that start real servers of the product (gunicorn, Celery) in other
processes and talk to them over HTTP on 127.0.0.1 like Twilio and a browser would; and a
real zero-setup server (gunicorn over a SQLite file, no broker, so its in-process
scheduler runs the sends, jobs and retries; Twilio a local fake server)."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from twilio.request_validator import RequestValidator

from conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN

ROOT = Path(__file__).resolve().parent.parent  # the repository: manage.py, the Procfile


def fake_twilio_env(fake_twilio) -> dict[str, str]:
    """The settings that make a process of the product send its texts to `fake_twilio`, as
    the test account."""
    return {
        "SMS_BACKEND": "twilio",
        "TWILIO_API_BASE_URL": fake_twilio.base_url,
        "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": "+14155550100",
    }


def django_run(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Run this repository's Python (`args`: "-c", code or "manage.py", …) as an operator
    starts Django: a clean environment (nothing inherited but PATH), a SQLite file of its
    own under `tmp_path`, no broker, and `env` on top. Its exit status and two streams."""
    base = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "smsjourney.settings",
        "SECRET_KEY": "k" * 50,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "",
    }
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, *args], cwd=ROOT, env=base | env, capture_output=True, text=True, timeout=120
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], bool], *, timeout: float) -> bool:
    """Poll `predicate` (a signal the product gives: a row, a log line, a request a fake
    server received) until it holds (True) or `timeout` seconds pass (False). The bound
    only stops a broken run from hanging: what a test asserts, it asserts on the signal."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def healthy(port: int) -> bool:
    try:
        with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def log_tail(log, tail: int = 6000) -> str:
    """The last `tail` characters of a server's log file (open "w+"), for a failure message."""
    log.flush()
    log.seek(0)
    return log.read()[-tail:]


def post_signed(port: int, params: dict, path: str = "/twilio/sms/") -> int:
    """POST `params` as Twilio does, signed over the URL called; the status answered."""
    url = f"http://127.0.0.1:{port}{path}"
    signature = RequestValidator(TEST_AUTH_TOKEN).compute_signature(url, params)
    request = Request(
        url,
        data=urlencode(params).encode(),
        headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
    )
    with urlopen(request, timeout=10) as response:  # noqa: S310 - 127.0.0.1 only
        return response.status


@contextlib.contextmanager
def zero_setup_server(
    tmp_path: Path,
    fake_twilio,
    *,
    workers: int = 2,
    env: dict | None = None,
    setup: Callable = lambda manage: None,
) -> Iterator[tuple[int, subprocess.Popen, object]]:
    """Migrate a fresh SQLite database, run `setup(manage)` (manage.py commands), then serve
    it with gunicorn; yields (port, process, log file)."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "smsjourney.settings",
        "SECRET_KEY": "zero-setup-test-" + "k" * 40,
        "DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "",
        **fake_twilio_env(fake_twilio),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SMS_QUIET_HOURS": "",
        "LOG_LEVEL": "INFO",
        **(env or {}),
    }

    def manage(*args: str, stdin: str | None = None) -> None:
        subprocess.run(  # noqa: S603 - our own interpreter and manage.py
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env=env, input=stdin, text=True, check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    manage("migrate", "--noinput")
    if setup is not None:
        setup(manage)
    log = (tmp_path / "server.log").open("w+")
    proc = subprocess.Popen(  # noqa: S603
        [
            *(sys.executable, "-m", "gunicorn", "smsjourney.wsgi", "--bind", f"127.0.0.1:{port}"),
            *("--workers", str(workers), "--graceful-timeout", "10", "--log-level", "info"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        up = wait_for(lambda: healthy(port), timeout=30)
        assert up, log_tail(log)
        yield port, proc, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """A Redis server of the test's own on 127.0.0.1:`port` (no persistence: a restart loses
    everything, as a crash of an unpersisted broker does), which a fault test may stop and
    start again; the machine's shared Redis is never touched."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.proc = subprocess.Popen(  # noqa: S603 (our own fixed command line)
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_for(self._answers, timeout=10), "redis-server did not start"
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # a crash, not a shutdown
            self.proc.wait(timeout=10)
        self.proc = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False
