"""Celery tasks of the tracking app: thin doors onto tracking.services."""

from celery import shared_task

from smsjourney.cron import cron_task
from tracking.services import inbound_message_route, inbound_route_due


@shared_task(acks_late=True, ignore_result=True)
def inbound_route_task(interaction_id: int) -> None:
    """Route one stored inbound message (a no-op when it was routed already). An error
    rolls its transaction back; the sweeper tries it again."""
    inbound_message_route(interaction_id=interaction_id)


@cron_task("inbound_route_due_task")
def inbound_route_due_task() -> dict:
    """Beat, every minute: route the inbound messages no worker took (never two runs at once)."""
    return {"routed": inbound_route_due()}
