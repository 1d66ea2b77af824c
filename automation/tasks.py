"""Beat tasks of the automation app: thin doors onto the scheduling services.

Celery beat sends both every minute (``settings.CELERY_BEAT_SCHEDULE``); each runs under
``smsjourney.cron.cron_task``, so a run that takes longer than a minute is never joined by
the next one (a duplicate invocation is skipped, not queued behind it).
"""

import logging

from automation.services import enrollment_expire_due, enrollment_timeouts_fire
from smsjourney.cron import cron_task

logger = logging.getLogger(__name__)


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
