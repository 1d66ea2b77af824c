"""Beat tasks of the automation app: thin doors onto the scheduling services.

Celery beat sends both every minute (``settings.CELERY_BEAT_SCHEDULE``); each runs under
``smsjourney.cron.cron_task``, so a run that takes longer than a minute is never joined by
the next one (a duplicate invocation is skipped, not queued behind it).
"""

import logging

from celery import shared_task

from automation.services import enrollment_expire_due, enrollment_timeouts_fire
from automation.services.inbound import inbound_message_route, inbound_route_due
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


@shared_task(acks_late=True, ignore_result=True)
def inbound_route_task(interaction_id: int) -> None:
    """Route one stored inbound message (a no-op when it was routed already). An error
    rolls its transaction back and is counted on the message; the sweeper tries again."""
    inbound_message_route(interaction_id=interaction_id)


@cron_task("inbound_route_due_task")
def inbound_route_due_task() -> dict:
    """Beat, every minute: route the inbound messages no worker took (never two runs at once)."""
    return {"routed": inbound_route_due()}


# Bulk enrollment batches live in their own module (issue 5): importing it here registers
# them with the worker, which autodiscovers `tasks` modules only.
from automation.tasks_bulk import bulk_enrollment_batch_task  # noqa: E402, F401
