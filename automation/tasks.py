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
from infra.cron import cron_task
from infra.logs import log_context
from messaging.services import outbound_send
from messaging.services.dispatch import contact_next_wake

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


@shared_task(bind=True, acks_late=True, ignore_result=True)
def outbound_send_task(self, outbound_id: int) -> None:
    """Send one message (messaging), then act on what happened (a prompt's timeout, a
    journey ended by a permanent failure), then let the contact's next text go. A transient
    error leaves it queued with a backoff: it goes again then, before the contact's next
    (messaging.services.dispatch; the release job is the safety net). Published by
    messaging under settings.OUTBOUND_SEND_TASK."""
    with log_context(outbound_id=outbound_id):  # the send adds its contact, message, enrollment
        outcome = outbound_send(outbound_id=outbound_id, eager=bool(self.request.is_eager))
        if outcome is not None:
            outbound_outcome_apply(outcome=outcome)
            contact_next_wake(contact_id=outcome.contact_id)  # then the contact's next text (in order)


@shared_task(acks_late=True, ignore_result=True)
def inbound_route_task(interaction_id: int) -> None:
    """Route one stored inbound message (a no-op when it was routed already). An error
    rolls its transaction back and is counted on the message; the sweeper tries again."""
    with log_context(message_id=interaction_id):
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
