"""The limiter's rule (infra/pacing.py, docs/architecture.md §3): GCRA in segments with a
sliding one-second window, the same in this process, in a file shared by a machine's
processes and on Redis (when CELERY_BROKER_URL names one). Pure: slots are read from what
each reservation answers (its delay), nothing sleeps."""

import itertools
import os
import statistics
import uuid

import pytest

from infra.pacing import FilePacing, LocalPacing, pacing_margin
from infra.pacing_redis import RedisPacing

REDIS_URL = os.environ.get("CELERY_BROKER_URL", "")


@pytest.fixture(params=["process", "file", "redis"])
def limiter(request, tmp_path):
    if request.param == "process":
        return LocalPacing()
    if request.param == "file":
        return FilePacing(str(tmp_path / "db.sqlite3.pacing"))
    if not REDIS_URL.startswith("redis"):
        pytest.skip("needs Redis: set CELERY_BROKER_URL=redis://…")
    return RedisPacing(REDIS_URL)


@pytest.fixture
def key():
    return f"test-{uuid.uuid4().hex[:12]}"


def slots(limiter, key, costs, *, rate, horizon=1000.0):
    """Reserve each cost in turn; the absolute times (s) of the slots granted."""
    out = []
    for cost in costs:
        reservation = limiter.reserve(key, rate=rate, cost=cost, horizon=horizon)
        assert reservation.granted
        out.append((reservation.at, cost))
    return out


def most_in_a_second(granted) -> int:
    """The most units whose slots fall in any one-second window [t, t + 1)."""
    return max(sum(c for at, c in granted if start <= at < start + 1.0) for start, _ in granted)


def test_one_segment_texts_are_spread_evenly_at_the_rate(limiter, key):
    granted = slots(limiter, key, [1] * 120, rate=50)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(granted)]
    assert min(gaps) > 0.95 * (1 + pacing_margin()) / 50  # evenly spaced, never bunched
    assert most_in_a_second(granted) <= 50
    # … and no slower than the margin: the slots' usual gap is the interval (a machine too busy
    # to ask in time stretches a few gaps, never the usual one).
    assert statistics.median(gaps) < (1 + pacing_margin()) / 50 * 1.02


@pytest.mark.parametrize("costs", [[2, 1] * 20, [3, 1, 1, 2] * 10, [1, 3] * 15])
def test_long_texts_count_their_segments_and_no_second_holds_more_than_the_rate(limiter, key, costs):
    granted = slots(limiter, key, costs, rate=3)
    assert most_in_a_second(granted) <= 3


def test_a_slot_beyond_the_horizon_is_not_reserved_and_says_when_to_ask_again(limiter, key):
    first = limiter.reserve(key, rate=2, cost=1, horizon=0.5)
    assert first.granted and first.delay < 0.05
    second = limiter.reserve(key, rate=2, cost=1, horizon=0.1)  # its slot is ~0.535 s away
    assert not second.granted
    assert 0.1 < second.delay <= 0.435  # ask again when the slot is within the horizon
    third = limiter.reserve(key, rate=2, cost=1, horizon=1.0)
    assert third.granted and 0.2 < third.delay <= 0.535  # nothing was taken by the refusal


def test_a_back_off_pushes_the_next_slot(limiter, key):
    limiter.backoff(key, 2.0)
    assert 1.0 < limiter.next_slot(key) <= 2.0  # (bounds loose for a busy machine)
    refused = limiter.reserve(key, rate=100, cost=1, horizon=0.5)
    assert not refused.granted and 0.5 < refused.delay <= 1.5


def test_wakes_are_coalesced_the_earliest_wins(limiter, key):
    assert limiter.wake_claim(key, 1.0)
    assert not limiter.wake_claim(key, 2.0)  # one is pending sooner
    assert limiter.wake_claim(key, 0.0)  # this one is sooner: schedule it
    limiter.wake_clear(key)  # the run started
    assert limiter.wake_claim(key, 3.0)


def test_a_parked_key_takes_no_earlier_wake_until_its_run_starts(limiter, key):
    """Parked (at its limit until its run): a sooner wake could reserve nothing, so none is
    scheduled; the run starting ends the park."""
    assert limiter.wake_claim(key, 0.3, park=True)
    assert not limiter.wake_claim(key, 0.0)  # a new text: the parked run will take it
    assert not limiter.wake_claim(key, 1.0)
    limiter.wake_clear(key)  # the parked run started
    assert limiter.wake_claim(key, 0.0)


def test_one_run_at_a_time_and_a_wake_during_it_runs_it_again(limiter, key):
    """A second run of a key does not go beside the first; a wake asked for while one goes
    (a text queued meanwhile) is that run's next, due at once when it ends."""
    assert limiter.wake_claim(key, 0.0)
    assert limiter.run_begin(key)  # the scheduled run begins
    assert not limiter.run_begin(key)  # a second, beside it: no
    assert not limiter.wake_claim(key, 0.0)  # a text queued meanwhile: no run beside it …
    assert limiter.run_end(key) == 0.0  # … the run goes again at once
    assert limiter.run_begin(key)
    assert limiter.run_end(key) is None  # nothing asked for meanwhile: no next run
    assert limiter.wake_claim(key, 0.0)  # no run going: a wake schedules one


def test_a_run_that_ends_at_its_limit_parks_the_key(limiter, key):
    assert limiter.run_begin(key)
    assert limiter.wake_claim(key, 5.0)  # a later wake (a retry's back-off) is its own run
    assert limiter.run_end(key, park=0.3) == 0.3
    assert not limiter.wake_claim(key, 0.0)  # parked: the run at 0.3 s takes it
    assert limiter.run_begin(key)  # the parked run begins: the park ends
    assert limiter.run_end(key, more=True) == 0.0  # it left work: another run at once
    assert not limiter.wake_claim(key, 0.0)  # that one is due already


def test_two_processes_sharing_a_file_share_the_limit(tmp_path, key):
    path = str(tmp_path / "db.sqlite3.pacing")
    one, two = FilePacing(path), FilePacing(path)
    granted = []
    for i in range(40):
        reservation = (one if i % 2 else two).reserve(key, rate=10, cost=1, horizon=100)
        granted.append((reservation.at, 1))
    assert most_in_a_second(granted) <= 10


@pytest.mark.skipif(not REDIS_URL.startswith("redis"), reason="needs Redis: set CELERY_BROKER_URL=redis://…")
def test_the_scripts_survive_a_redis_restart(key):
    """A restarted Redis has no scripts loaded: redis-py loads them again (EVALSHA → NOSCRIPT →
    SCRIPT LOAD), and the limiter goes on from an empty state."""
    limiter = RedisPacing(REDIS_URL)
    assert limiter.reserve(key, rate=5, cost=1, horizon=1).granted
    limiter.client.script_flush()  # what a restart leaves
    later = limiter.reserve(key, rate=5, cost=1, horizon=1)
    assert later.granted and 0.0 < later.delay <= 0.214
    assert limiter.wake_claim(key, 0.5)


def test_a_hand_over_is_admitted_while_the_last_window_has_room(limiter, key):
    """Right before a send: a sliding window of 1 + m seconds, no spacing (the plan spaced
    them; the margin's room is kept between late sends that bunch)."""
    assert [limiter.admit(key, rate=3, cost=1) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.admit(key, rate=3, cost=1)  # a fourth in the same window
    assert 0.5 < wait <= 1 + pacing_margin()  # (the first went a moment before)
    assert limiter.admit(key, rate=3, cost=1) > 0  # refused ones are not counted
    other = f"{key}-other"
    assert limiter.admit(other, rate=3, cost=5) == 0.0  # longer than the limit: alone in its second
    assert limiter.admit(other, rate=3, cost=1) > 0.5
