"""`manage.py route_waiting_messages` — the sweeper (Celery beat runs it every minute when a
broker is configured): routes the inbound messages the webhook stored but no worker took
within a minute (the broker was down when they came, or a worker died mid-way). Without
beat, run it from cron every minute. Idempotent; safe to run beside workers."""

from django.core.management.base import BaseCommand

from automation.engine.inbound import inbound_route_due
from infra.jobs import job_name, job_run


class Command(BaseCommand):
    help = "Route stored inbound messages that no worker has taken."

    def handle(self, *args, **options) -> None:
        with job_run(job_name("automation.tasks.inbound_route_due_task")):  # recorded as beat's job
            count = inbound_route_due()
        self.stdout.write(f"Routed {count} waiting message{'' if count == 1 else 's'}.")
