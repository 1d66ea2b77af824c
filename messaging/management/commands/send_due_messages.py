"""`manage.py send_due_messages` — the release job (Celery beat runs it every minute when
a broker is configured): sends messages held for quiet hours once they may go, retries
messages whose backoff has passed, recovers messages a dead worker left half-sent.
Without a broker, run it from cron every minute. Idempotent; safe to run concurrently."""

from django.core.management.base import BaseCommand

from messaging.services import outbound_release_due


class Command(BaseCommand):
    help = "Send held and retrying messages whose time has come."

    def handle(self, *args, **options) -> None:
        count = outbound_release_due()
        self.stdout.write(f"Released {count} message{'' if count == 1 else 's'}.")
