"""Real threads for concurrency tests (transactional, on PostgreSQL): each runs with a database
connection of its own, closed when it ends, and what it raises is reported in the test's
thread. Nothing is timed: threads start together at a barrier, and the test waits for the
signals the database gives (a row lock held, sessions waiting on a lock)."""

import threading
from collections.abc import Callable

from django.db import connections, transaction

from tests.servers import wait_for


def in_thread(func: Callable, *args, **kwargs):
    """`func(*args, **kwargs)` from a thread other than the test's (a pool's): its database
    connection is closed after, so none is left open when the test database goes."""
    try:
        return func(*args, **kwargs)
    finally:
        connections.close_all()


def all_at_once(work: Callable, n: int = 8) -> list:
    """Run `work()` in `n` threads released together (a barrier); what each returned."""
    barrier = threading.Barrier(n)
    results: list = []
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait(timeout=30)
            results.append(work())
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


def started(func: Callable, errors: list) -> threading.Thread:
    """`func` running in a thread of its own; what it raises goes to `errors`, for the test's
    thread to report."""

    def run():
        try:
            func()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def hold_row(model, pk, errors: list) -> tuple[threading.Event, threading.Event, threading.Thread]:
    """A thread that locks one row (SELECT … FOR UPDATE) and holds it until `release` is
    set: whatever needs that row waits meanwhile. Returns (held, release, the thread)."""
    held, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            model.objects.select_for_update().get(pk=pk)
            held.set()
            release.wait(timeout=60)

    return held, release, started(hold, errors)


def wait_for_lock_waits(n: int) -> None:
    """Until `n` sessions of this database wait on a row lock (pg_stat_activity)."""

    def waiting() -> int:
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            return cursor.fetchone()[0]

    assert wait_for(lambda: waiting() >= n, timeout=30), f"{n} sessions never waited on a lock"
