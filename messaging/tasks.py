"""Celery tasks of the messaging app: thin doors onto messaging.services. (Sending one message
is automation's task, automation.tasks.outbound_send_task: it acts on the outcome.)"""

from celery import shared_task

from infra.jobs import job_name, job_run
from messaging.services import outbound_release_due
from messaging.services.dispatch import outbound_dispatch


@shared_task(ignore_result=True)
def outbound_release_due_task() -> int:
    """Beat, every minute: enqueue held/queued messages whose time has come. (It may overlap
    itself, so it takes no cron lock; each run is recorded all the same.)"""
    with job_run(job_name("messaging.tasks.outbound_release_due_task")):
        return outbound_release_due()


@shared_task(acks_late=True, ignore_result=True)
def sender_dispatch_task(sender_id: int | None) -> None:
    """Hand a sender's ready messages over, paced (messaging.services.dispatch)."""
    outbound_dispatch(sender_id=sender_id)
