"""The periodic jobs' last runs and the workers' heartbeats (docs/reference.md §9): what
``/metrics`` (``smsjourney_job_last_success_timestamp_seconds``) and the admin's health page
read, in the database, so that every web process of every machine sees the same.

- A job is named as in ``CELERY_BEAT_SCHEDULE`` (``process-timeouts`` …), whoever runs it:
  beat's worker and the in-process scheduler through ``infra.cron.cron_task``, cron through
  the jobs' management commands (``job_run``). A run that raises records its failure.
- A heartbeat is one row per process doing the background work, written at most every
  ``HEARTBEAT_SECONDS``: a Celery worker (``smsjourney.celery``, on Celery's own heartbeat),
  or, without a broker, a web process's in-process scheduler (``infra.background``).

Infrastructure: imports no app. Writing a record never breaks the job it records.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30  # a process says it is alive this often
SEEN_RECENTLY = timedelta(minutes=2)  # a process seen within this is working
FORGET_AFTER = timedelta(days=1)  # heartbeats of processes gone this long are deleted


def job_name(task_name: str) -> str:
    """The name of the periodic job that runs the Celery task `task_name` (its key in
    ``CELERY_BEAT_SCHEDULE``); the task's own name when no entry runs it."""
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        if entry.get("task") == task_name:
            return name
    return task_name


def jobs_known() -> list[str]:
    """Every periodic job, as the schedule lists them."""
    return list(settings.CELERY_BEAT_SCHEDULE)


@contextmanager
def job_run(job: str) -> Iterator[None]:
    """Record one run of `job` around the block: its success (when and how long it took), or
    its failure (the error; the exception goes on)."""
    started = time.monotonic()
    try:
        yield
    except Exception as exc:
        _record(job, last_failure_at=timezone.now(), last_error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    _record(job, last_success_at=timezone.now(), last_seconds=round(time.monotonic() - started, 3))


def _record(job: str, **fields) -> None:
    from infra.models import JobRun

    try:
        JobRun.objects.update_or_create(job=job, defaults=fields)
    except Exception:  # the record is for people; the job's own work is done
        logger.warning("job %s: its run was not recorded", job, exc_info=True)


@dataclass(frozen=True)
class JobState:
    """One periodic job as the health page and /metrics show it."""

    job: str
    every: timedelta | None  # its schedule (None: not in the schedule)
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str

    def late(self, now: datetime) -> bool:
        """Whether it has not succeeded for three of its periods (five minutes at least), or
        failed since its last success."""
        if self.last_failure_at and (not self.last_success_at or self.last_failure_at > self.last_success_at):
            return True
        if self.every is None:
            return False
        allowed = max(self.every * 3, timedelta(minutes=5))
        return self.last_success_at is None or now - self.last_success_at > allowed


def jobs_state() -> list[JobState]:
    """Every scheduled job (with or without a run) and every other recorded one. One query."""
    from infra.models import JobRun

    runs = {run.job: run for run in JobRun.objects.all()}
    names = jobs_known() + sorted(set(runs) - set(jobs_known()))
    states = []
    for name in names:
        run, schedule = runs.get(name), (settings.CELERY_BEAT_SCHEDULE.get(name) or {}).get("schedule")
        every = schedule if isinstance(schedule, timedelta) else None
        if isinstance(schedule, int | float):
            every = timedelta(seconds=schedule)
        states.append(
            JobState(
                job=name,
                every=every,
                last_success_at=run.last_success_at if run else None,
                last_failure_at=run.last_failure_at if run else None,
                last_error=run.last_error if run else "",
            )
        )
    return states


# --- heartbeats -----------------------------------------------------------------------

_beat_lock = threading.Lock()
_last_beat: dict[int, float] = {}  # pid → monotonic time of its last heartbeat written
_started_at: dict[int, datetime] = {}


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def heartbeat(*, kind: str, force: bool = False) -> bool:
    """Say this process is alive (at most every HEARTBEAT_SECONDS unless `force`); True when
    a row was written. Old rows of processes long gone are deleted on the way."""
    from django.db import close_old_connections

    from infra.models import Heartbeat

    pid = os.getpid()
    with _beat_lock:
        now_mono = time.monotonic()
        if not force and now_mono - _last_beat.get(pid, -HEARTBEAT_SECONDS) < HEARTBEAT_SECONDS:
            return False
        _last_beat[pid] = now_mono
        started = _started_at.setdefault(pid, timezone.now())
    now = timezone.now()
    try:
        close_old_connections()
        Heartbeat.objects.update_or_create(
            name=process_name(), defaults={"kind": kind, "started_at": started, "seen_at": now}
        )
        Heartbeat.objects.filter(seen_at__lt=now - FORGET_AFTER).delete()
    except Exception:
        logger.warning("heartbeat not recorded", exc_info=True)
        return False
    return True


def heartbeats(*, now: datetime | None = None) -> list:
    """The processes seen in the last day, the latest first (``Heartbeat`` rows)."""
    from infra.models import Heartbeat

    now = now or timezone.now()
    return list(Heartbeat.objects.filter(seen_at__gte=now - FORGET_AFTER))
