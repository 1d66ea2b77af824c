"""Celery tasks of the messaging app: thin doors onto messaging.services. (Sending one message
is automation's task, automation.tasks.outbound_send_task: it acts on the outcome.)"""

from celery import shared_task

from messaging.services import outbound_release_due


@shared_task(ignore_result=True)
def outbound_release_due_task() -> int:
    """Beat, every minute: enqueue held/queued messages whose time has come."""
    return outbound_release_due()
