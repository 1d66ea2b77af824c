"""Celery tasks of the messaging app: thin doors onto messaging.services."""

from celery import shared_task

from messaging.services import MAX_ATTEMPTS, outbound_release_due, outbound_send
from smsjourney.background import task_enqueue


@shared_task(bind=True, max_retries=MAX_ATTEMPTS, acks_late=True, ignore_result=True)
def outbound_send_task(self, outbound_id: int) -> None:
    """Send one message. A transient error leaves it queued with a backoff; on a worker the
    task retries itself after that delay, at the message's priority (the release job is
    the safety net). Without a broker the serving process's scheduler runs the retry at
    its time; anywhere else (a command, a test) it is left to the release job."""
    eager = bool(self.request.is_eager)
    retry = outbound_send(outbound_id=outbound_id, eager=eager)
    if retry is None:
        return
    if not eager:
        if self.request.retries < self.max_retries:
            raise self.retry(countdown=retry.seconds, priority=retry.priority)
        return
    task_enqueue(outbound_send_task, args=(outbound_id,), countdown=retry.seconds)


@shared_task(ignore_result=True)
def outbound_release_due_task() -> int:
    """Beat, every minute: enqueue held/queued messages whose time has come."""
    return outbound_release_due()
