"""Helpers shared by the ``bench/*.py`` scripts: a throw-away PostgreSQL database, the
environment a benchmark server runs with, CPU accounting, and a small HTTP/1.1 load
generator. The processes a bench starts (gunicorn, a Celery worker) are in
``bench/processes.py``.

Everything here talks to 127.0.0.1 only and is bounded in time and count. Scripts run as
``.venv/bin/python bench/<name>.py`` from anywhere; they import this module as
``bench.common`` after putting the repository root on ``sys.path``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = (
    str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
)

PG_HOST = os.environ.get("PGHOST", "127.0.0.1")
PG_PORT = int(os.environ.get("PGPORT", "5432"))
PG_USER = os.environ.get("PGUSER", "root")

# What Twilio signs with, and the public origin the signatures are computed over.
BENCH_AUTH_TOKEN = "bench0123456789abcdef0123456789ab"
BENCH_ACCOUNT_SID = "AC" + "be" * 16
BENCH_PUBLIC_BASE_URL = "https://bench.example.com"
BENCH_FROM_NUMBER = "+14155550100"


# --- PostgreSQL -----------------------------------------------------------------------


def pg_url(dbname: str) -> str:
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"


def _pg_admin(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def database_recreate(dbname: str) -> str:
    """Drop (if present) and create the bench database `dbname`; return its URL."""
    assert dbname.startswith("sj_bench_"), "bench scripts only ever touch sj_bench_* databases"
    _pg_admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    _pg_admin(f'CREATE DATABASE "{dbname}"')
    return pg_url(dbname)


def database_drop(dbname: str) -> None:
    assert dbname.startswith("sj_bench_")
    _pg_admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


# --- the server -----------------------------------------------------------------------


def server_env(*, database_url: str, broker_url: str, **extra: str) -> dict[str, str]:
    """The environment (docs/reference.md §2 variables) a bench server and its manage.py run with:
    production mode (DEBUG=0), plain HTTP on loopback, the bench's Twilio credentials."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DEBUG="0",
        SECRET_KEY="bench-only-secret-key-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        PUBLIC_BASE_URL=BENCH_PUBLIC_BASE_URL,
        TWILIO_AUTH_TOKEN=BENCH_AUTH_TOKEN,
        TWILIO_ACCOUNT_SID=BENCH_ACCOUNT_SID,
        TWILIO_FROM_NUMBER=BENCH_FROM_NUMBER,
        SMS_BACKEND="console",
        SMS_QUIET_HOURS="",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, for a utilisation figure."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# --- the load generator ---------------------------------------------------------------


def build_request(
    method: str, path: str, *, port: int, body: bytes = b"", headers: dict | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: keep-alive"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Conn:
    """One keep-alive connection; reconnects when the server closes it (gunicorn's sync
    workers close after every response)."""

    def __init__(self, port: int):
        self.port = port
        self.sock: socket.socket | None = None

    def request(self, raw: bytes) -> int:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock.sendall(raw)
            status, keep = self._read()
        except OSError:
            self.close()
            raise
        if not keep:
            self.close()
        return status

    def _read(self) -> tuple[int, bool]:
        sock = self.sock
        assert sock is not None
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection before answering")
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = None
        keep = lines[0].startswith("HTTP/1.1")
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "connection":
                keep = value.strip().lower() != "close"
        if length is None:
            while sock.recv(65536):
                pass
            return status, False
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("short body")
            rest += chunk
        return status, keep

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def http_request(port: int, raw: bytes) -> tuple[int, None]:
    conn = _Conn(port)
    try:
        return conn.request(raw), None
    finally:
        conn.close()


@dataclass
class PhaseResult:
    name: str
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: int = 0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    machine_util: float = 0.0
    sent: list = field(default_factory=list)  # the keys of requests answered 200, in order

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def rps(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def pct(self, p: float) -> float:
        """Latency percentile in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index] * 1000


def run_load(
    name: str,
    *,
    port: int,
    requests,
    concurrency: int,
    duration: float,
    server_pids: list[int] | None = None,
) -> PhaseResult:
    """Send ``(key, raw_request_bytes)`` items from the iterable `requests` with
    `concurrency` keep-alive connections until it is exhausted or `duration` seconds
    have passed. Every item is sent at most once (so each MessageSid is new)."""
    result = PhaseResult(name)
    source = iter(requests)
    lock = threading.Lock()
    deadline = time.monotonic() + duration

    def worker() -> None:
        conn = _Conn(port)
        lat: list[float] = []
        statuses: Counter = Counter()
        sent: list = []
        errors = 0
        try:
            while time.monotonic() < deadline:
                with lock:
                    item = next(source, None)
                if item is None:
                    break
                key, raw = item
                t0 = time.perf_counter()
                try:
                    status = conn.request(raw)
                except OSError:
                    errors += 1
                    continue
                lat.append(time.perf_counter() - t0)
                statuses[status] += 1
                if status == 200:
                    sent.append(key)
        finally:
            conn.close()
            with lock:
                result.latencies.extend(lat)
                result.statuses.update(statuses)
                result.sent.extend(sent)
                result.errors += errors

    threads = [threading.Thread(target=worker, name=f"{name}-{i}", daemon=True) for i in range(concurrency)]
    cpu0 = cpu_seconds(server_pids or [])
    client0 = time.process_time()
    busy0, total0 = machine_busy()
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 60)
    result.elapsed = time.monotonic() - start
    busy1, total1 = machine_busy()
    result.client_cpu = time.process_time() - client0
    result.server_cpu = cpu_seconds(server_pids or []) - cpu0
    result.machine_util = (busy1 - busy0) / max(1, total1 - total0)
    return result
