"""Celery tasks of the messaging app: thin doors onto messaging.services."""

from celery import shared_task

from messaging.services import MAX_ATTEMPTS, outbound_release_due, outbound_send


@shared_task(bind=True, max_retries=MAX_ATTEMPTS, acks_late=True, ignore_result=True)
def outbound_send_task(self, outbound_id: int) -> None:
    """Send one message. A transient error leaves it queued with a backoff; on a worker the
    task retries itself after that delay (the release job is the safety net). Eager (no
    broker, inside a web request): one try only, never a retry loop."""
    eager = bool(self.request.is_eager)
    retry_in = outbound_send(outbound_id=outbound_id, eager=eager)
    if retry_in is not None and not eager and self.request.retries < self.max_retries:
        raise self.retry(countdown=retry_in)


@shared_task(ignore_result=True)
def outbound_release_due_task() -> int:
    """Beat, every minute: enqueue held/queued messages whose time has come."""
    return outbound_release_due()
