"""A non-blocking lock for periodic jobs, so that a run is never joined by the next one
(in the style of rapidpro's ``cron_task``): on PostgreSQL a session advisory lock
(``pg_try_advisory_lock``, released by PostgreSQL itself if the worker dies); on SQLite —
one machine by nature — a file lock (``filelock``, released by the kernel if the process
dies), so that several processes serving one SQLite database run each job once at a time;
elsewhere a cache lock with a timeout. The jobs are safe to overlap anyway (``SKIP LOCKED``, claims,
guarded updates); the lock keeps two workers from doing the same scan twice."""

import hashlib
import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path

from celery import shared_task
from django.core.cache import cache
from django.db import connection
from filelock import FileLock, Timeout

from infra.jobs import job_name, job_run

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
    if connection.vendor == "sqlite":
        lock = FileLock(_lock_path(name), timeout=0, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()
        return
    cache_key = f"cron-lock:{name}"
    acquired = cache.add(cache_key, "1", CRON_LOCK_TIMEOUT)
    try:
        yield acquired
    finally:
        if acquired:
            cache.delete(cache_key)


def _lock_path(name: str) -> Path:
    """One lock file per database file and job, in the system's temporary directory."""
    database = str(connection.settings_dict.get("NAME") or "")
    key = hashlib.blake2b(f"{database}:{name}".encode(), digest_size=10).hexdigest()
    folder = Path(tempfile.gettempdir()) / "smsjourney-locks"
    folder.mkdir(exist_ok=True)
    return folder / f"{key}.lock"


def cron_task(name: str) -> Callable:
    """A Celery task (named after the function, as Celery names tasks) whose runs never
    overlap: a second one while the first holds the lock `name` returns
    ``{"skipped": True}`` at once. Each run that had the lock is recorded as a run of its
    periodic job (``infra.jobs``: the health page, /metrics)."""

    def decorator(func: Callable) -> Callable:
        task_name = f"{func.__module__}.{func.__name__}"

        @wraps(func)
        def run(*args, **kwargs):
            with cron_lock(name) as acquired:
                if not acquired:
                    logger.info("%s: the previous run is still going; skipped", name)
                    return {"skipped": True}
                with job_run(job_name(task_name)):
                    return func(*args, **kwargs)

        return shared_task(ignore_result=True)(run)

    return decorator
