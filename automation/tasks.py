"""Beat tasks of the automation app: thin doors onto the scheduling services.

Celery beat sends both every minute (``settings.CELERY_BEAT_SCHEDULE``); each runs under
``infra.cron.cron_task``, so a run that takes longer than a minute is never joined by
the next one (a duplicate invocation is skipped, not queued behind it).
"""

import logging

from celery import shared_task

from automation.engine import enrollment_expire_due, enrollment_timeouts_fire
from automation.engine.inbound import inbound_message_route, inbound_route_due
from automation.engine.sending import outbound_outcome_apply
from infra.background import task_enqueue
from infra.cron import cron_task
from messaging.services import MAX_ATTEMPTS, outbound_send

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


@shared_task(bind=True, max_retries=MAX_ATTEMPTS, acks_late=True, ignore_result=True)
def outbound_send_task(self, outbound_id: int) -> None:
    """Send one message (messaging), then act on what happened (a prompt's timeout, a
    journey ended by a permanent failure). A transient error leaves it queued with a
    backoff; on a worker the task retries itself after that delay, at the message's
    priority (the release job is the safety net). Without a broker the serving process's
    scheduler runs the retry at its time; anywhere else (a command, a test) it is left to
    the release job. Published by messaging under settings.OUTBOUND_SEND_TASK."""
    eager = bool(self.request.is_eager)
    outcome = outbound_send(outbound_id=outbound_id, eager=eager)
    if outcome is None:
        return
    outbound_outcome_apply(outcome=outcome)
    retry = outcome.retry
    if retry is None:
        return
    if not eager:
        if self.request.retries < self.max_retries:
            raise self.retry(countdown=retry.seconds, priority=retry.priority)
        return
    task_enqueue(outbound_send_task, args=(outbound_id,), countdown=retry.seconds)


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


@shared_task(acks_late=True, ignore_result=True)
def http_step_task(enrollment_id: int, visit: int) -> None:
    """Call a plan http step's web service and move the enrollment on with its answer."""
    from automation.engine.http_steps import http_step_run

    http_step_run(enrollment_id=enrollment_id, visit=visit)
