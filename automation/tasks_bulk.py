"""Bulk enrollment batches (registered with the worker by an import in automation.tasks)."""

from celery import shared_task

from automation.engine.bulk import bulk_enrollment_batch_run, bulk_enrollment_chain_next


@shared_task(acks_late=True)
def bulk_enrollment_batch_task(
    job_id: int, contact_ids: list[int], index: int | None = None, rest: list | None = None
) -> None:
    """Enroll one batch, then hand over the next of its chain (a failed batch stops no other)."""
    try:
        bulk_enrollment_batch_run(job_id=job_id, contact_ids=contact_ids, index=index)
    finally:
        bulk_enrollment_chain_next(job_id=job_id, rest=rest or [])
