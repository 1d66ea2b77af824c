"""Work off the request path when there is no broker: the zero-setup mode is the whole product.

With ``CELERY_BROKER_URL`` set, Celery workers run tasks and beat runs the periodic jobs.
Without one (``make run``, or the same settings under gunicorn) every serving process runs
an in-process scheduler (APScheduler's ``BackgroundScheduler``, a thread and a small
thread pool):

- the periodic jobs of ``CELERY_BEAT_SCHEDULE`` (timeouts, expiry, release of held and
  retrying messages, the sweeper) on their schedule, each under its cross-process lock
  (``infra.cron.cron_lock``: a PostgreSQL advisory lock, on SQLite a file lock), so
  that several processes at once run each job once at a time;
- sends, handed over by ``task_enqueue`` instead of running inside the request;
- delayed retries (``task_enqueue(…, countdown=…)``) at their time: a send that hit a 429
  goes again a second later, not at the next minute's release job;
- a heartbeat every ``HEARTBEAT_SECONDS`` (``infra.jobs``: the health page's workers);
- each queue ``CELERY_TASK_ROUTES`` routes tasks to (plan `http` steps, which wait on
  outside web services) on a pool of its own, as a broker's workers would: four slow
  services never hold the threads that route replies and send.

It starts with the server (``smsjourney.wsgi``) and stops with it (``atexit``: running
jobs finish, nothing new starts). Anywhere else — tests, management commands, a shell —
it is not running and ``task_enqueue`` runs the task right away, as Celery's eager mode
does. This module knows no app: what to run comes from the settings and the callers.
"""

import atexit
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from django.conf import settings
from django.db import close_old_connections, connections

from infra.jobs import HEARTBEAT_SECONDS

logger = logging.getLogger(__name__)

# Threads for jobs and sends in one serving process: enough for a burst of replies, few
# enough for SQLite's one writer at a time.
WORKER_THREADS = 4
# Threads of each routed queue's own pool (CELERY_TASK_ROUTES): an http step holds one for
# at most HTTP_STEP_TIMEOUT.
QUEUE_THREADS = 4
FIRST_RUN_AFTER = timedelta(seconds=5)  # periodic jobs start shortly after the server

_lock = threading.Lock()
_scheduler: BackgroundScheduler | None = None
_pid: int | None = None
_pools: frozenset[str] = frozenset()  # the running scheduler's pools besides "default"


def wanted() -> bool:
    """Whether this process should run the in-process scheduler: no broker, and not
    turned off (``IN_PROCESS_JOBS=0``, e.g. where cron runs the commands instead)."""
    return not settings.CELERY_BROKER_URL and settings.IN_PROCESS_JOBS


def running() -> bool:
    return _scheduler is not None and _pid == os.getpid() and _scheduler.running


def start(*, periodic: dict[str, tuple[Callable[[], object], float]]) -> bool:
    """Start this process's scheduler (once per process; again in a forked child) with
    `periodic`: job name → (callable, interval in seconds). False when not wanted."""
    global _scheduler, _pid, _pools
    if not wanted():
        return False
    with _lock:
        if running():
            return True
        executors = {"default": ThreadPoolExecutor(WORKER_THREADS)}
        executors |= {queue: ThreadPoolExecutor(QUEUE_THREADS) for queue in _routed_queues()}
        scheduler = BackgroundScheduler(
            executors=executors,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
            timezone=UTC,
        )
        first = datetime.now(UTC) + FIRST_RUN_AFTER
        for name, (func, seconds) in periodic.items():
            scheduler.add_job(
                _run_periodic,
                "interval",
                seconds=seconds,
                args=(func, name),
                id=name,
                name=name,
                next_run_time=first,
            )
        # This process says it is alive (infra.jobs: the health page's "workers seen recently").
        scheduler.add_job(
            _beat,
            "interval",
            seconds=HEARTBEAT_SECONDS,
            id="heartbeat",
            name="heartbeat",
            next_run_time=first,
        )
        scheduler.start()
        _scheduler, _pid, _pools = scheduler, os.getpid(), frozenset(executors) - {"default"}
    atexit.register(stop)
    logger.info("in-process jobs started (pid %s): %s", _pid, ", ".join(periodic) or "none")
    return True


def stop() -> None:
    """Stop the scheduler: running jobs finish, queued ones are dropped (the release job
    and the sweeper find what they left, next time the product runs)."""
    global _scheduler
    with _lock:
        scheduler, _scheduler = _scheduler, None
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=True)
        logger.info("in-process jobs stopped (pid %s)", os.getpid())


def _run_periodic(func: Callable, name: str) -> None:
    """One periodic job on a pool thread: never two runs of it at once, in this process or
    another (the cron lock), with Django's connection hygiene around it."""
    from infra.cron import cron_lock

    close_old_connections()
    try:
        with cron_lock(f"in-process:{name}") as acquired:
            if acquired:
                func()
    except Exception:
        logger.exception("in-process job %s failed", name)
    finally:
        connections.close_all()


def _beat() -> None:
    from infra.jobs import heartbeat
    from infra.models import Heartbeat

    try:
        heartbeat(kind=Heartbeat.Kind.IN_PROCESS, force=True)
    finally:
        connections.close_all()


def _run_task(task, *args) -> None:
    """One handed-over task on a pool thread, run as Celery's eager mode runs it."""
    close_old_connections()
    try:
        task.apply(args=args)
    except Exception:
        logger.exception("in-process task %s%r failed", task.name, args)
    finally:
        connections.close_all()


def _routed_queues() -> set[str]:
    """The queues CELERY_TASK_ROUTES sends tasks to (each gets its own pool here)."""
    return {route["queue"] for route in settings.CELERY_TASK_ROUTES.values() if route.get("queue")}


def _pool_of(task) -> str:
    """The scheduler's pool for `task`: its routed queue's, else the default one."""
    queue = (settings.CELERY_TASK_ROUTES.get(task.name) or {}).get("queue")
    return queue if queue in _pools else "default"


def eager() -> bool:
    """Whether tasks run in this process (no broker, or Celery's eager mode): read at call
    time, since tests flip the setting after Celery may have cached its config."""
    return bool(settings.CELERY_TASK_ALWAYS_EAGER) or not settings.CELERY_BROKER_URL


def task_enqueue(task, *, args: tuple = (), countdown: float | None = None, priority: int | None = None):
    """Hand a Celery task over: to the broker when one is configured (with `countdown` and
    `priority`); else to this process's scheduler when it runs (now, or in `countdown`
    seconds), off the request path; else run it right here, now (tests, commands)."""
    if not eager():
        options = {"priority": priority} if priority is not None else {}
        return task.apply_async(args=args, countdown=countdown, **options)
    scheduler = _scheduler if running() else None
    if scheduler is not None:
        when = datetime.now(UTC) + timedelta(seconds=max(countdown or 0, 0))
        pool = _pool_of(task)
        options = {} if pool == "default" else {"misfire_grace_time": None}  # late, never dropped
        scheduler.add_job(
            _run_task, "date", run_date=when, args=(task, *args), name=task.name, executor=pool, **options
        )
        return None
    if countdown:
        return None  # nobody to run it later here: the periodic jobs will (release, sweeper)
    return task.apply(args=args)
