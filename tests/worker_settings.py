"""Settings of the Celery worker that tests/celery_worker.py starts: the product's, with the
worker publishing its own tasks (a routed message's sends) to the test's private queue, the
one it consumes, instead of the shared default queue (plan `http` steps too, instead of the
shared `http` queue)."""

import os
from datetime import timedelta

from smsjourney.settings import *  # noqa: F403

CELERY_TASK_DEFAULT_QUEUE = os.environ["SMSJOURNEY_TEST_QUEUE"]
CELERY_TASK_ROUTES = {}

# A fault test's short safety nets (messaging/services/dispatch.py), so that what a lost
# broker dropped is found again within seconds, not a minute.
if os.environ.get("SMSJOURNEY_TEST_LEASE_SECONDS"):
    OUTBOUND_HANDOFF_LEASE = OUTBOUND_RELEASE_GRACE = timedelta(
        seconds=float(os.environ["SMSJOURNEY_TEST_LEASE_SECONDS"])
    )

# A fault test's beat (run inside a worker, `celery worker -B`): only the release job, every
# few seconds instead of every minute.
if os.environ.get("SMSJOURNEY_TEST_BEAT_SECONDS"):
    CELERY_BEAT_SCHEDULE = {
        "send-due-messages": {
            "task": "messaging.tasks.outbound_release_due_task",
            "schedule": timedelta(seconds=float(os.environ["SMSJOURNEY_TEST_BEAT_SECONDS"])),
        }
    }
