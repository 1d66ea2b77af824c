"""A rate limiter shared by every worker and machine: GCRA on the Redis server's clock.

Each key (a sender) is paced at ``rate`` units a second (SMS segments). A caller asks to
*reserve* ``cost`` units: the limiter answers with the moment the units may go — now, or a
slot a little later (at most ``horizon`` seconds ahead, so a worker can hand the message
over with a countdown and move on) — or, when the next slot is further away than that,
with how long to wait before asking again (the caller parks the key; no thread sleeps).

The rule, for rate R and a margin m (PACING_MARGIN):
- GCRA (the generic cell rate algorithm): a theoretical arrival time ``tat`` per key;
  a reservation of k units at slot s = max(now, tat) moves ``tat`` to s + k·(1+m)/R. No
  burst tolerance: slots are spread evenly, never bunched.
- and a sliding window: the units reserved in any (1+m)-second window never exceed R (a
  message of k segments counts k at its slot; GCRA alone would let one long message
  overfill a window by k-1).
The margin keeps a little room for network jitter between our hand-over and Twilio's
clock: at 50 MPS the slots are 21.4 ms apart, and a one-second window sees 47.
Right before a call, ``admit`` checks the window alone (no spacing): a caller that ran
late must not push the next one back.

On Redis the rule runs as one Lua script (atomic, on the server's ``TIME``: every machine
shares one clock); scripts are registered with redis-py (``EVALSHA``, loaded again after
a Redis restart). Without a broker the same rule runs in a file beside the SQLite database,
shared by the serving processes of the machine (``FilePacing``), or in the process.
Redis errors propagate: the caller decides (a message not handed over waits in the
database). Wakes: ``wake_claim(key, delay)`` tells whether the caller should schedule a
run for the key (coalescing: at most one pending run per key, the earliest wins). A run
claimed with ``park=True`` (the key is at its limit until then) takes every wake asked for
before it: an earlier run could reserve nothing (``wake_clear``, when the run starts, ends
the park).
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

from filelock import FileLock

PACING_MARGIN = 0.07
WINDOW_SECONDS = 1.0
KEY_PREFIX = "sj:pace:"


@dataclass(frozen=True)
class Reservation:
    """``granted``: the units are reserved for ``delay`` seconds from now (0: at once), the
    slot ``at`` (epoch seconds on the limiter's clock). Otherwise nothing is reserved; ask
    again in ``delay`` seconds."""

    granted: bool
    delay: float
    at: float = 0.0


def _interval_us(rate: float) -> int:
    return max(int(1_000_000 * (1 + PACING_MARGIN) / rate), 1)


_WINDOW_US = int(1_000_000 * WINDOW_SECONDS * (1 + PACING_MARGIN))
_SECOND_US = 1_000_000


def _window_wait(*, now: int, log: list[tuple[int, int]], capacity: int, cost: int) -> int:
    """µs until `cost` more units fit in the one-second window ending then (0: now). `log`:
    the units handed over in the last second, oldest first. A text longer than the whole
    capacity goes alone in its second."""
    used = sum(units for _, units in log)
    if used == 0 or used + cost <= capacity:
        return 0
    for at, units in log:
        used -= units
        if used == 0 or used + cost <= capacity:
            return max(at + _SECOND_US - now, 1)
    return 1


def _slot(*, now: int, tat: int, log: list[tuple[int, int]], capacity: int, cost: int) -> int:
    """The earliest slot (µs) ≥ max(now, tat) at which `cost` more units keep every window
    within `capacity`. `log`: the (slot, units) reserved lately, oldest first."""
    slot = max(now, tat)
    inside = [(at, units) for at, units in log if at > slot - _WINDOW_US]
    used = sum(units for _, units in inside)
    for at, units in inside:
        if used == 0 or used + cost <= capacity:
            break
        used -= units
        slot = max(slot, at + _WINDOW_US)
    return slot


class LocalPacing:
    """The rule in this process (tests; a broker-less process with no database file)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tat: dict[str, int] = {}
        self._log: dict[str, list[tuple[int, int]]] = {}
        self._wakes: dict[str, float] = {}
        self._parked: dict[str, float] = {}

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
            log = [entry for entry in self._log.get(key, ()) if entry[0] > now - 2 * _WINDOW_US]
            slot = _slot(now=now, tat=self._tat.get(key, 0), log=log, capacity=max(int(rate), 1), cost=cost)
            wait = (slot - now) / 1_000_000
            self._log[key] = log
            if wait > horizon:
                return Reservation(False, wait - horizon)
            self._tat[key] = slot + cost * _interval_us(rate)
            self._log[key] = [*log, (slot, cost)]
            return Reservation(True, wait, slot / 1_000_000)

    def admit(self, key: str, *, rate: float, cost: int) -> float:
        """Right before a hand-over: 0.0 when `cost` more units keep the last second within
        `rate` (they are counted), else the seconds until they would."""
        with self._state():
            now = self._now()
            log = [entry for entry in self._log.get(f"{key}:sent", ()) if entry[0] > now - _SECOND_US]
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
            self._tat = {k: int(v) for k, v in saved.get("tat", {}).items() if int(v) > now - 2 * _WINDOW_US}
            self._log = {k: [(int(a), int(u)) for a, u in v] for k, v in saved.get("log", {}).items()}
            yield
            state = {"tat": self._tat, "log": {k: v for k, v in self._log.items() if v}}
            self.path.write_text(json.dumps(state))


# KEYS: tat, log. ARGV: interval µs, window µs, capacity, cost, horizon µs.
# Returns {granted (0/1), delay µs}.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local capacity, cost, horizon = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 2 * window)
local since = '(' .. string.format('%d', slot - window)
local entries = redis.call('ZRANGEBYSCORE', KEYS[2], since, '+inf', 'WITHSCORES')
local used = 0
for i = 1, #entries, 2 do used = used + tonumber(string.match(entries[i], ':(%d+)$')) end
for i = 1, #entries, 2 do
  if used == 0 or used + cost <= capacity then break end
  used = used - tonumber(string.match(entries[i], ':(%d+)$'))
  slot = math.max(slot, tonumber(entries[i + 1]) + window)
end
if slot - now > horizon then return {0, slot - now - horizon, 0} end
local tat = slot + cost * interval
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now + 2 * window) / 1000))
redis.call('ZADD', KEYS[2], slot, string.format('%d', slot) .. ':' .. cost)
redis.call('PEXPIRE', KEYS[2], math.ceil((tat - now + 2 * window) / 1000))
return {1, slot - now, string.format('%d', slot)}
"""

# KEYS: sent log, its member counter. ARGV: capacity, cost. Returns µs to wait (0: admitted
# and counted).
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local capacity, cost = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 1000000)
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local used = 0
for i = 1, #entries, 2 do used = used + tonumber(string.match(entries[i], ':(%d+)$')) end
if used > 0 and used + cost > capacity then
  for i = 1, #entries, 2 do
    used = used - tonumber(string.match(entries[i], ':(%d+)$'))
    if used == 0 or used + cost <= capacity then
      return math.max(tonumber(entries[i + 1]) + 1000000 - now, 1)
    end
  end
end
local member = string.format('%d', now) .. ':' .. redis.call('INCR', KEYS[2]) .. ':' .. cost
redis.call('ZADD', KEYS[1], now, member)
redis.call('PEXPIRE', KEYS[1], 2000)
redis.call('PEXPIRE', KEYS[2], 2000)
return 0
"""

# KEYS: tat. ARGV: seconds (µs). Pushes the next slot to now + seconds at the earliest.
_BACKOFF = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + tonumber(ARGV[1])
if tonumber(redis.call('GET', KEYS[1]) or '0') < until_ then
  redis.call('SET', KEYS[1], string.format('%d', until_), 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 10000)
end
return 1
"""

# KEYS: wake, park. ARGV: delay µs, park (0/1). 1 when the caller should schedule a run
# (not parked, and none pending or the pending one is later than this one).
_WAKE = """
local t = redis.call('TIME')
local at = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local pending = redis.call('GET', KEYS[1])
if pending and tonumber(pending) <= at + 5000 then return 0 end
local ttl = math.ceil(tonumber(ARGV[1]) / 1000) + 5000
redis.call('SET', KEYS[1], string.format('%d', at), 'PX', ttl)
if ARGV[2] == '1' then redis.call('SET', KEYS[2], '1', 'PX', ttl) end
return 1
"""


class RedisPacing:
    """The rule on a Redis server, shared by every process that uses the same server."""

    def __init__(self, url: str, namespace: str = "") -> None:
        import redis

        self.prefix = f"{KEY_PREFIX}{namespace}:" if namespace else KEY_PREFIX
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._reserve = self.client.register_script(_RESERVE)
        self._backoff = self.client.register_script(_BACKOFF)
        self._admit = self.client.register_script(_ADMIT)
        self._wake = self.client.register_script(_WAKE)

    def reserve(self, key: str, *, rate: float, cost: int, horizon: float) -> Reservation:
        keys = [f"{self.prefix}tat:{key}", f"{self.prefix}log:{key}"]
        args = [
            _interval_us(rate),
            _WINDOW_US,
            max(int(rate), 1),
            cost,
            int(horizon * 1_000_000),
        ]
        granted, delay, slot = self._reserve(keys=keys, args=args)
        return Reservation(bool(granted), int(delay) / 1_000_000, int(slot) / 1_000_000)

    def admit(self, key: str, *, rate: float, cost: int) -> float:
        keys = [f"{self.prefix}sent:{key}", f"{self.prefix}sent-n:{key}"]
        wait = self._admit(keys=keys, args=[max(int(rate), 1), cost])
        return int(wait) / 1_000_000

    def backoff(self, key: str, seconds: float) -> None:
        self._backoff(keys=[f"{self.prefix}tat:{key}"], args=[int(seconds * 1_000_000)])

    def next_slot(self, key: str) -> float:
        tat = self.client.get(f"{self.prefix}tat:{key}")
        if tat is None:
            return 0.0
        seconds, micros = self.client.time()
        return max((int(tat) - (seconds * 1_000_000 + micros)) / 1_000_000, 0.0)

    def wake_claim(self, key: str, delay: float, *, park: bool = False) -> bool:
        keys = [f"{self.prefix}wake:{key}", f"{self.prefix}park:{key}"]
        return bool(self._wake(keys=keys, args=[int(max(delay, 0) * 1_000_000), int(park)]))

    def wake_clear(self, key: str) -> None:
        self.client.delete(f"{self.prefix}wake:{key}", f"{self.prefix}park:{key}")


@cache
def pacing(url: str | None, state_file: str | None = None, namespace: str = "") -> LocalPacing | RedisPacing:
    """The process's limiter: on the Redis server at `url` (a ``redis://`` or ``rediss://``
    URL: the broker's; keys under `namespace`, e.g. the database's name, so that two
    installations may share a Redis); else in `state_file`, shared by this machine's
    processes; else in this process."""
    if url and url.startswith(("redis://", "rediss://")):
        return RedisPacing(url, namespace)
    if state_file:
        return FilePacing(state_file)
    return LocalPacing()
