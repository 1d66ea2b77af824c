"""A rate limiter shared by every worker and machine: GCRA on the Redis server's clock.

Each key (a sender) is paced at ``rate`` units a second (SMS segments). A caller asks to
*reserve* ``cost`` units: the limiter answers with the moment the units may go — now, or a
slot a little later (at most ``horizon`` seconds ahead, so a worker can hand the message
over with a countdown and move on) — or, when the next slot is further away than that,
with how long to wait before asking again (the caller parks the key; no thread sleeps).

The rule, for rate R and a margin m (``pacing_margin()``: SMS_PACING_MARGIN, 3 %):
- GCRA (the generic cell rate algorithm): a theoretical arrival time ``tat`` per key;
  a reservation of k units at slot s = max(now, tat) moves ``tat`` to s + k·(1+m)/R. No
  burst tolerance: slots are spread evenly, never bunched.
- and a sliding window: the units reserved in any (1+m)-second window never exceed R (a
  message of k segments counts k at its slot; GCRA alone would let one long message
  overfill a window by k-1).
The margin keeps a little room for jitter between our hand-over and Twilio's clock: at 50
MPS the slots are 20.6 ms apart, and a one-second window sees 48.5.
Right before a call, ``admit`` checks a sliding window of 1 + m seconds alone (no
spacing): a caller that ran late must not push the next one back, and late callers that
bunch keep the margin's room between their check and Twilio's clock (bench/campaign.py
measured that delay: p50 1 ms, p99 30 ms on a loaded 2-core machine).

On Redis (``infra.pacing_redis``) the rule runs as one Lua script (atomic, on the server's
``TIME``: every machine shares one clock); scripts are registered with redis-py
(``EVALSHA``, loaded again after a Redis restart). Without a broker the same rule runs in
a file beside the SQLite database, shared by the serving processes of the machine
(``FilePacing``), or in the process.
Redis errors propagate: the caller decides (a message not handed over waits in the
database). Wakes: ``wake_claim(key, delay)`` tells whether the caller should schedule a
run for the key (coalescing: at most one pending run per key, the earliest wins). A run
claimed with ``park=True`` (the key is at its limit until then) takes every wake asked for
before it: an earlier run could reserve nothing.

Runs: one at a time per key (``run_begin`` … ``run_end``). A run that begins ends the park
and the pending wake; a wake asked for while a run is going (a text queued meanwhile) marks
the key *dirty* instead of scheduling a second run beside it; ``run_end`` then says when
the next run is due: at the park the run asks for, else at once when the key is dirty or
the run left work behind, else none. Concurrent runs of one key fought over the same rows
and each took up to 0.8 s while a bulk enrollment queued texts (bench/campaign.py). A run
whose process died holds the key for RUN_TTL at most.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock

if TYPE_CHECKING:
    from infra.pacing_redis import RedisPacing

DEFAULT_MARGIN = 0.03
WINDOW_SECONDS = 1.0
KEY_PREFIX = "sj:pace:"
RUN_TTL = 10.0  # seconds: a run holds its key at most this long (a killed worker's run)
SOON = 0.05  # seconds: a wake this soon, asked for while a run is going, is that run's again


@dataclass(frozen=True)
class Reservation:
    """``granted``: the units are reserved for ``delay`` seconds from now (0: at once), the
    slot ``at`` (epoch seconds on the limiter's clock). Otherwise nothing is reserved; ask
    again in ``delay`` seconds."""

    granted: bool
    delay: float
    at: float = 0.0


def pacing_margin() -> float:
    """The margin m: the SMS_PACING_MARGIN setting (docs/reference.md §1), else 3 %."""
    from django.conf import settings

    return float(getattr(settings, "SMS_PACING_MARGIN", DEFAULT_MARGIN))


def interval_us(rate: float) -> int:
    return max(int(1_000_000 * (1 + pacing_margin()) / rate), 1)


def window_us() -> int:
    """The sliding window, in µs: 1 + m seconds."""
    return int(1_000_000 * WINDOW_SECONDS * (1 + pacing_margin()))


def _window_wait(*, now: int, log: list[tuple[int, int]], capacity: int, cost: int) -> int:
    """µs until `cost` more units fit in the window (1 + m seconds) ending then (0: now).
    `log`: the units handed over in the last window, oldest first. A text longer than the whole
    capacity goes alone in its second."""
    used = sum(units for _, units in log)
    if used == 0 or used + cost <= capacity:
        return 0
    for at, units in log:
        used -= units
        if used == 0 or used + cost <= capacity:
            return max(at + window_us() - now, 1)
    return 1


def _slot(*, now: int, tat: int, log: list[tuple[int, int]], capacity: int, cost: int) -> int:
    """The earliest slot (µs) ≥ max(now, tat) at which `cost` more units keep every window
    within `capacity`. `log`: the (slot, units) reserved lately, oldest first."""
    slot = max(now, tat)
    inside = [(at, units) for at, units in log if at > slot - window_us()]
    used = sum(units for _, units in inside)
    for at, units in inside:
        if used == 0 or used + cost <= capacity:
            break
        used -= units
        slot = max(slot, at + window_us())
    return slot


class LocalPacing:
    """The rule in this process (tests; a broker-less process with no database file)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tat: dict[str, int] = {}
        self._log: dict[str, list[tuple[int, int]]] = {}
        self._wakes: dict[str, float] = {}
        self._parked: dict[str, float] = {}
        self._running: dict[str, float] = {}
        self._dirty: set[str] = set()

    @staticmethod
    def _now() -> int:
        return int(time.time() * 1_000_000)

    @contextmanager
    def _state(self) -> Iterator[None]:
        """Hold the state (``_tat``, ``_log``) for one operation."""
        with self._lock:
            yield

    def reserve(self, key: str, *, rate: float, cost: int, horizon: float) -> Reservation:
        with self._state():
            now = self._now()
            log = [entry for entry in self._log.get(key, ()) if entry[0] > now - 2 * window_us()]
            slot = _slot(now=now, tat=self._tat.get(key, 0), log=log, capacity=max(int(rate), 1), cost=cost)
            wait = (slot - now) / 1_000_000
            self._log[key] = log
            if wait > horizon:
                return Reservation(False, wait - horizon)
            self._tat[key] = slot + cost * interval_us(rate)
            self._log[key] = [*log, (slot, cost)]
            return Reservation(True, wait, slot / 1_000_000)

    def admit(self, key: str, *, rate: float, cost: int) -> float:
        """Right before a hand-over: 0.0 when `cost` more units keep the last 1 + m seconds
        within `rate` (they are counted), else the seconds until they would."""
        with self._state():
            now = self._now()
            log = [entry for entry in self._log.get(f"{key}:sent", ()) if entry[0] > now - window_us()]
            wait = _window_wait(now=now, log=log, capacity=max(int(rate), 1), cost=cost)
            if not wait:
                log.append((now, cost))
            self._log[f"{key}:sent"] = log
            return wait / 1_000_000

    def backoff(self, key: str, seconds: float) -> None:
        with self._state():
            self._tat[key] = max(self._tat.get(key, 0), self._now() + int(seconds * 1_000_000))

    def next_slot(self, key: str) -> float:
        with self._state():
            return max((self._tat.get(key, 0) - self._now()) / 1_000_000, 0.0)

    def wake_claim(self, key: str, delay: float, *, park: bool = False) -> bool:
        with self._lock:
            at, now = time.monotonic() + delay, time.monotonic()
            parked = self._parked.get(key)
            if parked is not None and now <= parked + 5:
                return False  # parked: its run comes when the limit allows anything again
            if delay <= SOON and self._running.get(key, 0.0) > now:
                self._dirty.add(key)  # the run going now runs again when it ends
                return False
            pending = self._wakes.get(key)
            if pending is not None and now - 5 <= pending <= at + 0.005:
                return False  # a run is already due no later than this one
            self._wakes[key] = at
            if park:
                self._parked[key] = at
            return True

    def wake_clear(self, key: str) -> None:
        with self._lock:
            self._wakes.pop(key, None)
            self._parked.pop(key, None)

    def run_begin(self, key: str) -> bool:
        """A run of `key` may go (True: the pending wake and the park end), unless another
        is going (False: that one runs again when it ends)."""
        with self._lock:
            now = time.monotonic()
            if self._running.get(key, 0.0) > now:
                self._dirty.add(key)
                return False
            self._running[key] = now + RUN_TTL
            self._wakes.pop(key, None)
            self._parked.pop(key, None)
            return True

    def run_end(self, key: str, *, park: float | None = None, more: bool = False) -> float | None:
        """The run of `key` ended: in how many seconds the next is due (None: no run until a
        wake). `park`: the key is at its limit for that long; `more`: the run left work."""
        with self._lock:
            now = time.monotonic()
            self._running.pop(key, None)
            dirty = key in self._dirty
            self._dirty.discard(key)
            if park is not None:
                self._wakes[key] = self._parked[key] = now + park
                return park
            if not (dirty or more):
                return None
            pending = self._wakes.get(key)
            if pending is not None and now - 5 <= pending <= now + 0.005:
                return None  # a run is already due
            self._wakes[key] = now
            return 0.0


class FilePacing(LocalPacing):
    """The rule shared by the processes of one machine without a broker (the zero-setup
    mode under gunicorn: several serving processes, one SQLite file): the state lives in a
    small JSON file beside the database, read and written under a file lock."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = Path(path)
        self._file_lock = FileLock(f"{path}.lock", timeout=5)

    @contextmanager
    def _state(self) -> Iterator[None]:
        with self._lock, self._file_lock:
            try:
                saved = json.loads(self.path.read_text())
            except (OSError, ValueError):
                saved = {}
            now = self._now()
            self._tat = {k: int(v) for k, v in saved.get("tat", {}).items() if int(v) > now - 2 * window_us()}
            self._log = {k: [(int(a), int(u)) for a, u in v] for k, v in saved.get("log", {}).items()}
            yield
            state = {"tat": self._tat, "log": {k: v for k, v in self._log.items() if v}}
            self.path.write_text(json.dumps(state))


@cache
def pacing(url: str | None, state_file: str | None = None, namespace: str = "") -> LocalPacing | RedisPacing:
    """The process's limiter: on the Redis server at `url` (a ``redis://`` or ``rediss://``
    URL: the broker's; keys under `namespace`, e.g. the database's name, so that two
    installations may share a Redis); else in `state_file`, shared by this machine's
    processes; else in this process."""
    if url and url.startswith(("redis://", "rediss://")):
        from infra.pacing_redis import RedisPacing

        return RedisPacing(url, namespace)
    if state_file:
        return FilePacing(state_file)
    return LocalPacing()
