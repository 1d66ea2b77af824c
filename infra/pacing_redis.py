"""The limiter's rule (``infra.pacing``) on a Redis server: every process that uses the
same server shares it, on the server's clock (``TIME``). Each operation is one Lua script,
atomic; scripts are registered with redis-py (``EVALSHA``, loaded again after a restart)."""

from __future__ import annotations

from infra.pacing import KEY_PREFIX, RUN_TTL, SOON, Reservation, interval_us, window_us

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

# KEYS: sent log, its member counter. ARGV: capacity, cost, window µs. Returns µs to wait
# (0: admitted and counted).
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local capacity, cost, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local used = 0
for i = 1, #entries, 2 do used = used + tonumber(string.match(entries[i], ':(%d+)$')) end
if used > 0 and used + cost > capacity then
  for i = 1, #entries, 2 do
    used = used - tonumber(string.match(entries[i], ':(%d+)$'))
    if used == 0 or used + cost <= capacity then
      return math.max(tonumber(entries[i + 1]) + window - now, 1)
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

# KEYS: wake, park, run, dirty. ARGV: delay µs, park (0/1), soon µs, run ttl ms. 1 when the
# caller should schedule a run (not parked, no run going that takes it, and none pending or
# the pending one is later than this one).
_WAKE = """
local t = redis.call('TIME')
local at = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if tonumber(ARGV[1]) <= tonumber(ARGV[3]) and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('SET', KEYS[4], '1', 'PX', ARGV[4])
  return 0
end
local pending = redis.call('GET', KEYS[1])
if pending and tonumber(pending) <= at + 5000 then return 0 end
local ttl = math.ceil(tonumber(ARGV[1]) / 1000) + 5000
redis.call('SET', KEYS[1], string.format('%d', at), 'PX', ttl)
if ARGV[2] == '1' then redis.call('SET', KEYS[2], '1', 'PX', ttl) end
return 1
"""

# KEYS: run, dirty, wake, park. ARGV: run ttl ms. 1: the run may go (the wake and the park
# end); 0: another run is going (marked to run again).
_RUN_BEGIN = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  redis.call('DEL', KEYS[3], KEYS[4])
  return 1
end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
return 0
"""

# KEYS: run, dirty, wake, park. ARGV: park µs (-1: none), more (0/1). The next run's delay in
# µs, -1 for none.
_RUN_END = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('DEL', KEYS[1])
local dirty = redis.call('DEL', KEYS[2]) == 1
local park = tonumber(ARGV[1])
if park >= 0 then
  local ttl = math.ceil(park / 1000) + 5000
  redis.call('SET', KEYS[3], string.format('%d', now + park), 'PX', ttl)
  redis.call('SET', KEYS[4], '1', 'PX', ttl)
  return park
end
if not dirty and ARGV[2] ~= '1' then return -1 end
local pending = redis.call('GET', KEYS[3])
if pending and tonumber(pending) <= now + 5000 then return -1 end
redis.call('SET', KEYS[3], string.format('%d', now), 'PX', 5000)
return 0
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
        self._run_begin = self.client.register_script(_RUN_BEGIN)
        self._run_end = self.client.register_script(_RUN_END)

    def _run_keys(self, key: str) -> list[str]:
        p = self.prefix
        return [f"{p}run:{key}", f"{p}dirty:{key}", f"{p}wake:{key}", f"{p}park:{key}"]

    def reserve(self, key: str, *, rate: float, cost: int, horizon: float) -> Reservation:
        keys = [f"{self.prefix}tat:{key}", f"{self.prefix}log:{key}"]
        args = [
            interval_us(rate),
            window_us(),
            max(int(rate), 1),
            cost,
            int(horizon * 1_000_000),
        ]
        granted, delay, slot = self._reserve(keys=keys, args=args)
        return Reservation(bool(granted), int(delay) / 1_000_000, int(slot) / 1_000_000)

    def admit(self, key: str, *, rate: float, cost: int) -> float:
        keys = [f"{self.prefix}sent:{key}", f"{self.prefix}sent-n:{key}"]
        wait = self._admit(keys=keys, args=[max(int(rate), 1), cost, window_us()])
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
        run, dirty, wake, parked = self._run_keys(key)
        args = [int(max(delay, 0) * 1_000_000), int(park), int(SOON * 1_000_000), int(RUN_TTL * 1000)]
        return bool(self._wake(keys=[wake, parked, run, dirty], args=args))

    def wake_clear(self, key: str) -> None:
        self.client.delete(f"{self.prefix}wake:{key}", f"{self.prefix}park:{key}")

    def run_begin(self, key: str) -> bool:
        return bool(self._run_begin(keys=self._run_keys(key), args=[int(RUN_TTL * 1000)]))

    def run_end(self, key: str, *, park: float | None = None, more: bool = False) -> float | None:
        park_us = -1 if park is None else int(max(park, 0) * 1_000_000)
        delay = int(self._run_end(keys=self._run_keys(key), args=[park_us, int(more)]))
        return None if delay < 0 else delay / 1_000_000
