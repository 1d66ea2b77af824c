"""Celery tasks of the contacts app: thin doors onto contacts' services."""

from celery import shared_task

from contacts.imports import contact_import_run


@shared_task(acks_late=True, ignore_result=True)
def contact_import_run_task(import_id: int) -> None:
    """Run one uploaded contact import (a no-op when it ran already)."""
    contact_import_run(import_id=import_id)
