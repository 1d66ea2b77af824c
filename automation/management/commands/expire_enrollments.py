"""`manage.py expire_enrollments [--dry-run] [--as-of ISO8601] [--batch-size N]` (docs/reference.md §4).

A thin door onto ``automation.engine.enrollment_expire_due``; safe from cron and
concurrently with live traffic and with Celery beat's copy of the same job.
"""

from django.core.management.base import CommandError, CommandParser

from automation.engine import enrollment_expire_due
from automation.management.scheduled import ScheduledJobCommand


class Command(ScheduledJobCommand):
    help = "Expire every active enrollment whose expiry time has passed (as of now, or of --as-of)."
    task = "automation.tasks.enrollment_expire_due_task"
    verb, past, noun = "expire", "Expired", "enrollment"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--batch-size",
            type=int,
            default=5000,
            metavar="N",
            help="Enrollments per transaction (default 5000).",
        )

    def progress_shown(self, total: int, *, verbosity: int, batch_size: int, **options) -> bool:
        # Long runs (more than one batch) show progress.
        return verbosity >= 2 or (verbosity >= 1 and total >= batch_size)

    def run(self, *, now, dry_run, progress, batch_size: int, **options) -> int:
        if batch_size < 1:
            raise CommandError(f"--batch-size must be a positive number, not {batch_size}.")
        return enrollment_expire_due(now=now, batch_size=batch_size, dry_run=dry_run, progress=progress)
