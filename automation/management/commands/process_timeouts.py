"""`manage.py process_timeouts [--dry-run] [--as-of ISO8601]` (CONTRACT §4).

A thin door onto ``automation.services.enrollment_timeouts_fire``: every reply timeout that
is due moves its enrollment to the state's timeout target (e.g. the reminder). Safe from
cron and concurrently with live traffic and with Celery beat's copy of the same job.
"""

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from automation.management.commands.expire_enrollments import as_of_parse
from automation.services import enrollment_timeouts_fire


class Command(BaseCommand):
    help = "Fire every reply timeout that is due (as of now, or of --as-of)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what would fire; change nothing.")
        parser.add_argument(
            "--as-of",
            metavar="ISO8601",
            help="Fire as of this time instead of now, e.g. 2026-11-26T14:00:00Z (no offset: TIME_ZONE).",
        )

    def handle(self, *args, dry_run: bool, as_of: str | None, **options) -> None:
        now = as_of_parse(as_of) or timezone.now()
        verbosity = options.get("verbosity", 1)

        def progress(total: int) -> None:
            if verbosity >= 2:  # progress on stderr; stdout keeps the count
                self.stderr.write(f"… {total} fired so far")

        count = enrollment_timeouts_fire(now=now, dry_run=dry_run, progress=progress)
        noun = "timeout" if count == 1 else "timeouts"
        if dry_run:
            self.stdout.write(
                f"Would fire {count} {noun} as of {now.isoformat()} (dry run: nothing changed)."
            )
        else:
            self.stdout.write(f"Fired {count} {noun} as of {now.isoformat()}.")
