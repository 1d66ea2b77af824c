"""`manage.py expire_enrollments [--dry-run] [--as-of ISO8601] [--batch-size N]` (CONTRACT §4).

A thin door onto ``automation.services.enrollment_expire_due``; safe from cron and
concurrently with live traffic and with Celery beat's copy of the same job.
"""

from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from automation.services import enrollment_expire_due


def as_of_parse(raw: str | None) -> datetime | None:
    """``--as-of`` → an aware datetime (a date means its midnight; no offset means the
    site's TIME_ZONE), or CommandError saying what was wrong."""
    if raw is None:
        return None
    text = raw.strip()
    try:
        value = parse_datetime(text)
        if value is None:
            day = parse_date(text)
            value = datetime.combine(day, time.min) if day else None
    except ValueError:
        value = None  # well formed but impossible, e.g. 2026-02-30
    if value is None:
        raise CommandError(
            f"--as-of {raw!r} is not an ISO 8601 date-time; write e.g. 2026-11-26T14:00:00Z, "
            "2026-11-26T09:00:00-05:00 or 2026-11-26."
        )
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


class Command(BaseCommand):
    help = "Expire every active enrollment whose expiry time has passed (as of now, or of --as-of)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what would expire; change nothing.")
        parser.add_argument(
            "--as-of",
            metavar="ISO8601",
            help="Expire as of this time instead of now, e.g. 2026-11-26T14:00:00Z (no offset: TIME_ZONE).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=5000,
            metavar="N",
            help="Enrollments per transaction (default 5000).",
        )

    def handle(self, *args, dry_run: bool, as_of: str | None, batch_size: int, **options) -> None:
        if batch_size < 1:
            raise CommandError(f"--batch-size must be a positive number, not {batch_size}.")
        now = as_of_parse(as_of) or timezone.now()
        verbosity = options.get("verbosity", 1)

        def progress(total: int) -> None:
            # Long runs (more than one batch) show progress on stderr; stdout keeps the count.
            if verbosity >= 2 or (verbosity >= 1 and total >= batch_size):
                self.stderr.write(f"… {total} expired so far")

        count = enrollment_expire_due(now=now, batch_size=batch_size, dry_run=dry_run, progress=progress)
        noun = "enrollment" if count == 1 else "enrollments"
        if dry_run:
            self.stdout.write(
                f"Would expire {count} {noun} as of {now.isoformat()} (dry run: nothing changed)."
            )
        else:
            self.stdout.write(f"Expired {count} {noun} as of {now.isoformat()}.")
