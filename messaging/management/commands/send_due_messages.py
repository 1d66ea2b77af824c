"""`manage.py send_due_messages` — the release job (Celery beat runs it every minute when
a broker is configured): sends messages held for quiet hours once they may go, retries
messages whose backoff has passed, recovers messages a dead worker left half-sent.
Without a broker, run it from cron every minute: then it also sends the due texts itself,
each sender at its pace, for up to `--for` seconds (55 by default, so that the next minute's
run takes over). Idempotent; safe to run concurrently."""

from django.core.management.base import BaseCommand

from infra import background
from infra.background import eager
from infra.jobs import job_name, job_run
from messaging.services import outbound_release_due
from messaging.services.release import outbound_drain


class Command(BaseCommand):
    help = "Send held and retrying messages whose time has come."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--for", dest="seconds", type=float, default=55.0, metavar="SECONDS",
            help="Without a broker: how long to keep sending paced texts (default 55).",
        )  # fmt: skip

    def handle(self, *args, **options) -> None:
        job = job_name("messaging.tasks.outbound_release_due_task")  # recorded as beat's job
        if eager() and not background.running():  # no broker: nobody else sends them
            with job_run(job):
                handed = outbound_drain(seconds=max(options["seconds"], 0.0))
            self.stdout.write(f"Sent {handed} message{'' if handed == 1 else 's'}.")
            return
        with job_run(job):
            count = outbound_release_due()
        self.stdout.write(f"Released {count} message{'' if count == 1 else 's'}.")
