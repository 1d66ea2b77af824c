"""Beat tasks of the automation app: thin doors onto the scheduling services.

Celery beat sends both every minute (``settings.CELERY_BEAT_SCHEDULE``). A run that takes
longer than a minute must not be joined by the next one, so each task runs under a
non-blocking lock and a duplicate invocation is skipped rather than queued behind it (in the
style of rapidpro's ``cron_task``): on PostgreSQL a session advisory lock
(``pg_try_advisory_lock``, released by PostgreSQL itself if the worker dies), elsewhere a
cache lock with a timeout. The services are safe to overlap anyway (``SKIP LOCKED``, guarded
updates); the lock just keeps two workers from doing the same scan twice.
"""

import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps

from celery import shared_task
from django.core.cache import cache
from django.db import connection

from automation.services import enrollment_expire_due, enrollment_timeouts_fire

logger = logging.getLogger(__name__)

# A cache lock outlives a crashed worker by at most this long (PostgreSQL needs no timeout).
CRON_LOCK_TIMEOUT = 15 * 60


def _advisory_key(name: str) -> int:
    """A stable signed 64-bit key for pg_try_advisory_lock."""
    return int.from_bytes(
        hashlib.blake2b(f"smsjourney:{name}".encode(), digest_size=8).digest(), "big", signed=True
    )


@contextmanager
def cron_lock(name: str) -> Iterator[bool]:
    """Yield True when this process holds the job's lock, False when another run has it."""
    if connection.vendor == "postgresql":
        key = _advisory_key(name)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            acquired = bool(cursor.fetchone()[0])
        try:
            yield acquired
        finally:
            if acquired:
                try:
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
                except Exception:  # the connection is gone, and the session lock with it
                    logger.warning("cron lock %s: could not unlock; the session ended", name, exc_info=True)
        return
    cache_key = f"cron-lock:{name}"
    acquired = cache.add(cache_key, "1", CRON_LOCK_TIMEOUT)
    try:
        yield acquired
    finally:
        if acquired:
            cache.delete(cache_key)


def cron_task(name: str) -> Callable:
    """A Celery task whose runs never overlap: a second one while the first holds the lock
    returns ``{"skipped": True}`` at once."""

    def decorator(func: Callable) -> Callable:
        @wraps(func)
        def run(*args, **kwargs):
            with cron_lock(name) as acquired:
                if not acquired:
                    logger.info("%s: the previous run is still going; skipped", name)
                    return {"skipped": True}
                return func(*args, **kwargs)

        return shared_task(name=f"automation.tasks.{name}", ignore_result=True)(run)

    return decorator


@cron_task("enrollment_expire_due_task")
def enrollment_expire_due_task() -> dict:
    count = enrollment_expire_due()
    if count:
        logger.info("expired %d enrollments", count)
    return {"expired": count}


@cron_task("enrollment_timeouts_fire_task")
def enrollment_timeouts_fire_task() -> dict:
    count = enrollment_timeouts_fire()
    if count:
        logger.info("fired %d reply timeouts", count)
    return {"fired": count}


# Bulk enrollment batches live in their own module (issue 5): importing it here registers
# them with the worker, which autodiscovers `tasks` modules only.
from automation.tasks_bulk import bulk_enrollment_batch_task  # noqa: E402, F401
