"""The counters of ``GET /metrics`` (docs/reference.md §9), shared by every process.

Prometheus asks any one web process, and the totals must cover every web and worker
process of every machine. prometheus-client's own counters live in one process's memory
(its multiprocess mode: in files of one machine), so the counters here live in a store
every process shares, and the scrape reads them with the gauges read from the database
(``smsjourney.metrics``):

- with a Redis broker, a hash on the broker's server (``sj:metrics:<database>``): every
  machine counts into it (it counts from zero again after Redis loses its data: a counter
  reset, which Prometheus' ``rate`` and ``increase`` expect);
- without one (zero-setup: one machine), a small SQLite file beside the SQLite database
  (``db.sqlite3.metrics``; for PostgreSQL without a broker, in the temporary directory),
  shared by the machine's processes;
- with an in-memory database (tests), the process's memory.

A count is taken where the thing happens (the service), after its transaction commits, and
costs the caller a dictionary update: a thread of each process adds what was counted to
the store (one round trip for everything counted meanwhile). A scrape first adds what its
own process counted, so a count made before a scrape is in it. A store that does not
answer loses nothing counted until the process ends: it is tried again a second later.

Infrastructure: imports no app; what is counted is named here, where it is counted is the
apps' (``metric_count``, ``metric_observe``).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import sqlite3
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

logger = logging.getLogger(__name__)

INBOUND = "smsjourney_inbound_messages"
EVENTS = "smsjourney_events"
OUTBOUND = "smsjourney_outbound_messages"
TWILIO_ERRORS = "smsjourney_twilio_errors"
REPLY_SECONDS = "smsjourney_reply_seconds"

# name → (help, label, the label's values always shown, 0 until counted)
COUNTERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    INBOUND: ("Inbound messages the webhook stored (redeliveries left out).", "channel", ("sms", "whatsapp")),
    EVENTS: ("Events the API stored (not duplicates).", "", ("",)),
    OUTBOUND: (
        "Send outcomes: sent (accepted by Twilio), failed, retried (a transient error, tried again).",
        "status",
        ("sent", "failed", "retried"),
    ),
    TWILIO_ERRORS: ("Twilio error codes, from the REST API and from status callbacks.", "code", ()),
}
REPLY_HELP = "From an inbound message stored to the first text answering it accepted by Twilio."
REPLY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


def metric_count(name: str, label: str = "", amount: float = 1) -> None:
    """Count `amount` on the counter `name` (with its label's value), once the caller's
    transaction commits (at once outside one). Never raises."""
    _after_commit({f"{name}|{label}": amount})


def twilio_error_count(code: object) -> None:
    """Count one of Twilio's error codes (``smsjourney_twilio_errors_total``): five digits or
    more (an HTTP status alone, a timeout's empty code, are not Twilio's codes)."""
    code = str(code or "")
    if code.isascii() and code.isdigit() and len(code) >= 5:
        metric_count(TWILIO_ERRORS, code[:16])


def metric_observe(name: str, value: float) -> None:
    """One observation of the histogram `name` (seconds), once the caller's transaction
    commits. Never raises."""
    value = max(float(value), 0.0)
    le = next((f"{b:g}" for b in REPLY_BUCKETS if value <= b), "+Inf")
    _after_commit({f"{name}|bucket|{le}": 1, f"{name}|sum": value, f"{name}|count": 1})


def _after_commit(deltas: dict[str, float]) -> None:
    try:
        transaction.on_commit(lambda: _pending().add(deltas), robust=True)
    except Exception:
        logger.debug("not counted", exc_info=True)


# --- what a reply answers ---------------------------------------------------------------


@dataclass
class _ReplyClock:
    inbound_at: datetime
    taken: bool = False


_reply_clock: ContextVar[_ReplyClock | None] = ContextVar("smsjourney_reply_clock", default=None)


@contextmanager
def reply_clock(inbound_at: datetime) -> Iterator[None]:
    """While an inbound message stored at `inbound_at` is being answered (its routing): the
    first text queued to answer it takes the time (``reply_clock_take``), the reply
    histogram's start."""
    token = _reply_clock.set(_ReplyClock(inbound_at))
    try:
        yield
    finally:
        _reply_clock.reset(token)


def reply_clock_take() -> datetime | None:
    """The time the message being answered was stored, for the first text answering it;
    None after that, and outside a routing."""
    clock = _reply_clock.get()
    if clock is None or clock.taken:
        return None
    clock.taken = True
    return clock.inbound_at


# --- the stores -----------------------------------------------------------------------


class LocalStore:
    """In this process (an in-memory database: tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, float] = defaultdict(float)

    def add(self, deltas: dict[str, float]) -> None:
        with self._lock:
            for key, amount in deltas.items():
                self._values[key] += amount

    def read(self) -> dict[str, float]:
        with self._lock:
            return dict(self._values)

    def snapshot_read(self, name: str) -> dict | None:
        return None  # tests: a figure is read afresh each time (their database rolls back)

    def snapshot_write(self, name: str, saved: dict) -> None:
        pass


class FileStore:
    """A SQLite file shared by the processes of one machine (no broker)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()  # one connection a thread (the adding thread, scrapes)
        db = self._db()
        with db:
            db.execute("CREATE TABLE IF NOT EXISTS counter (key TEXT PRIMARY KEY, value REAL NOT NULL)")
            db.execute("CREATE TABLE IF NOT EXISTS snapshot (name TEXT PRIMARY KEY, saved TEXT NOT NULL)")

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None or getattr(self._local, "pid", None) != os.getpid():
            db = sqlite3.connect(self.path, timeout=5)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")  # figures, not data: a power loss may lose the last ones
            self._local.db, self._local.pid = db, os.getpid()
        return db

    def add(self, deltas: dict[str, float]) -> None:
        db = self._db()
        with db:
            db.executemany(
                "INSERT INTO counter (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
                list(deltas.items()),
            )

    def read(self) -> dict[str, float]:
        return dict(self._db().execute("SELECT key, value FROM counter"))

    def snapshot_read(self, name: str) -> dict | None:
        row = self._db().execute("SELECT saved FROM snapshot WHERE name = ?", [name]).fetchone()
        return json.loads(row[0]) if row else None

    def snapshot_write(self, name: str, saved: dict) -> None:
        db = self._db()
        with db:
            db.execute(
                "INSERT INTO snapshot (name, saved) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET saved = excluded.saved",
                [name, json.dumps(saved)],
            )


class RedisStore:
    """A hash on the broker's Redis server, shared by every process of every machine."""

    def __init__(self, url: str, namespace: str) -> None:
        import redis

        self.key = f"sj:metrics:{namespace}"
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def add(self, deltas: dict[str, float]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for key, amount in deltas.items():
            pipe.hincrbyfloat(self.key, key, amount)
        pipe.execute()

    def read(self) -> dict[str, float]:
        return {k.decode(): float(v) for k, v in self.client.hgetall(self.key).items()}

    def snapshot_read(self, name: str) -> dict | None:
        raw = self.client.get(f"{self.key}:snapshot:{name}")
        return json.loads(raw) if raw else None

    def snapshot_write(self, name: str, saved: dict) -> None:
        self.client.set(f"{self.key}:snapshot:{name}", json.dumps(saved), ex=3600)


_stores: dict[tuple, LocalStore | FileStore | RedisStore] = {}
_stores_lock = threading.Lock()


def store() -> LocalStore | FileStore | RedisStore:
    """The store of this installation (its broker, its database), one per process."""
    broker = settings.CELERY_BROKER_URL or ""
    database = connections.settings[DEFAULT_DB_ALIAS]  # a plain dict: no per-thread look-up
    name = str(database.get("NAME") or "")
    if broker.startswith(("redis://", "rediss://")):
        key: tuple = ("redis", broker, name)
    elif "sqlite" in database["ENGINE"] and (not name or name == ":memory:" or name.startswith("file:")):
        key = ("local", name)
    elif "sqlite" in database["ENGINE"]:
        key = ("file", f"{name}.metrics")
    else:  # PostgreSQL without a broker: one machine's processes share a file
        digest = hashlib.blake2b(
            f"{database.get('HOST')}:{database.get('PORT')}:{name}".encode(), digest_size=10
        )
        folder = Path(tempfile.gettempdir()) / "smsjourney-metrics"
        folder.mkdir(exist_ok=True)
        key = ("file", str(folder / f"{digest.hexdigest()}.sqlite3"))
    with _stores_lock:
        found = _stores.get(key)
        if found is None:
            if key[0] == "redis":
                found = RedisStore(broker, name)
            elif key[0] == "file":
                found = FileStore(key[1])
            else:
                found = LocalStore()
            _stores[key] = found
        return found


# --- counting without waiting -------------------------------------------------------------


class _Pending:
    """What this process counted and has not added to the store yet, and the thread that
    adds it (started in each process on its first count: a forked child gets its own)."""

    RETRY_SECONDS = 1.0
    GATHER_SECONDS = 0.05  # what is counted this long after a first count goes in one round trip

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.deltas: dict[str, float] = defaultdict(float)
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.target = None
        self.warned_at = 0.0

    def add(self, deltas: dict[str, float]) -> None:
        if self.pid != os.getpid():
            self._reset()
        target = store()
        if isinstance(target, LocalStore):
            target.add(deltas)
            return
        with self.lock:
            self.target = target
            for key, amount in deltas.items():
                self.deltas[key] += amount
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="metrics", daemon=True)
                self.thread.start()
        self.wake.set()

    def _run(self) -> None:
        while True:
            self.wake.wait()
            time.sleep(self.GATHER_SECONDS)
            self.wake.clear()
            if not self.flush():
                time.sleep(self.RETRY_SECONDS)
                self.wake.set()

    def flush(self) -> bool:
        """Add what was counted to the store; False when the store did not answer (what was
        counted is kept for the next try)."""
        if self.pid != os.getpid():
            return True
        with self.lock:
            batch, target = self.deltas, self.target
            self.deltas = defaultdict(float)
        if not batch or target is None:
            return True
        try:
            target.add(batch)
        except Exception as exc:
            with self.lock:
                for key, amount in batch.items():
                    self.deltas[key] += amount
            if time.monotonic() - self.warned_at > 60:
                self.warned_at = time.monotonic()
                logger.warning("metrics: the counters' store does not answer (%s); kept for later", exc)
            return False
        return True


_pending_counts = _Pending()


def _pending() -> _Pending:
    return _pending_counts


atexit.register(lambda: _pending_counts.flush())


SNAPSHOT_SECONDS = 30


def snapshot(
    name: str, compute: Callable[[], dict[str, float]], *, max_age: float = SNAPSHOT_SECONDS
) -> dict:
    """A figure too costly to read on every scrape (a count over every enrollment): read at
    most every `max_age` seconds by whichever process is asked first, and kept in the store
    every process shares, so that every process shows the same. Read afresh when the store
    does not answer."""
    try:
        saved = store().snapshot_read(name)
    except Exception:
        saved = None
    if saved and 0 <= time.time() - saved.get("at", 0) < max_age:
        return saved["values"]
    values = compute()
    try:
        store().snapshot_write(name, {"at": time.time(), "values": values})
    except Exception:
        logger.debug("snapshot %s not kept", name, exc_info=True)
    return values


def counters_read() -> dict[str, float]:
    """Every counter of every process: this process's own counts added first. Raises when
    the store does not answer."""
    _pending_counts.flush()
    return store().read()
