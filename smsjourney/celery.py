"""The Celery app. Without CELERY_BROKER_URL tasks run eagerly in-process."""

import os

from celery import Celery
from celery.signals import heartbeat_sent, setup_logging, task_prerun, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsjourney.settings")

app = Celery("smsjourney")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fixup closes the database connection around every task unless this is
# set: a new PostgreSQL connection per task (~10 ms) would cap a worker at a few dozen
# sends/s. Keep connections instead, and let Django's own rules (CONN_MAX_AGE, errors,
# CONN_HEALTH_CHECKS) decide when one is closed, checked before each task (below).
app.add_defaults({"CELERY_DB_REUSE_MAX": 1_000_000})
app.autodiscover_tasks()


@task_prerun.connect
def _close_old_connections(task=None, **kwargs) -> None:
    """On a worker, like a Django request would: drop unusable or too old connections."""
    if task is not None and getattr(task.request, "is_eager", False):
        return  # inside the caller's request or test transaction: not ours to touch
    from django.db import close_old_connections

    close_old_connections()


@setup_logging.connect
def _django_logging(**kwargs) -> None:
    """Workers and beat log as the web does (settings.LOGGING: LOG_LEVEL, LOG_FORMAT=json,
    docs/reference.md §9): Celery leaves the logging to Django's configuration."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@worker_ready.connect
def _worker_started(**kwargs) -> None:
    from infra.jobs import heartbeat
    from infra.models import Heartbeat

    heartbeat(kind=Heartbeat.Kind.WORKER, force=True)


@heartbeat_sent.connect
def _worker_alive(**kwargs) -> None:
    """Celery's worker heartbeat (every 2 s): recorded every 30 s (infra.jobs, the health
    page's "workers seen recently")."""
    from infra.jobs import heartbeat
    from infra.models import Heartbeat

    heartbeat(kind=Heartbeat.Kind.WORKER)


def start_beat_schedule() -> bool:
    """No broker: start this serving process's scheduler (``infra.background``) with the
    periodic jobs of ``CELERY_BEAT_SCHEDULE`` (what beat would publish, run here instead).
    Called by the WSGI/ASGI entry points; False when it is not wanted."""
    from datetime import timedelta

    from django.conf import settings

    from infra import background

    app.loader.import_default_modules()  # the apps' tasks modules (Celery's autodiscovery)
    periodic = {}
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        schedule = entry["schedule"]
        seconds = schedule.total_seconds() if isinstance(schedule, timedelta) else float(schedule)
        task = app.tasks[entry["task"]]
        periodic[name] = (task.apply, seconds)
    return background.start(periodic=periodic)
