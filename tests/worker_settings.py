"""Settings of the Celery worker that tests/celery_worker.py starts: the product's, with the
worker publishing its own tasks (a routed message's sends) to the test's private queue, the
one it consumes, instead of the shared default queue (plan `http` steps too, instead of the
shared `http` queue)."""

import os

from smsjourney.settings import *  # noqa: F403

CELERY_TASK_DEFAULT_QUEUE = os.environ["SMSJOURNEY_TEST_QUEUE"]
CELERY_TASK_ROUTES = {}
