"""`manage.py route_waiting_messages` — the sweeper (Celery beat runs it every minute when a
broker is configured): routes the inbound messages the webhook stored but no worker took
within a minute (the broker was down when they came, or a worker died mid-way). Without
beat, run it from cron every minute. Idempotent; safe to run beside workers."""

from django.core.management.base import BaseCommand

from automation.engine.inbound import inbound_route_due


class Command(BaseCommand):
    help = "Route stored inbound messages that no worker has taken."

    def handle(self, *args, **options) -> None:
        count = inbound_route_due()
        self.stdout.write(f"Routed {count} waiting message{'' if count == 1 else 's'}.")
