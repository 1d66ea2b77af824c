"""What `expire_enrollments` and `process_timeouts` share (docs/reference.md §4): `--dry-run`,
`--as-of ISO8601`, progress on stderr for long runs, and the count on stdout."""

from collections.abc import Callable
from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from infra.jobs import job_name, job_run


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


class ScheduledJobCommand(BaseCommand):
    """A cron-friendly door onto one set-based job. Subclasses name the job's words and
    implement `run`."""

    task = ""  # the Celery task beat runs for the same job: its run is recorded as that job's
    verb = ""  # "expire"
    past = ""  # "Expired"
    noun = ""  # "enrollment"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help=f"Count what would {self.verb}; change nothing."
        )
        parser.add_argument(
            "--as-of",
            metavar="ISO8601",
            help=f"{self.verb.capitalize()} as of this time instead of now, e.g. 2026-11-26T14:00:00Z "
            "(no offset: TIME_ZONE).",
        )

    def run(self, *, now: datetime, dry_run: bool, progress: Callable[[int], None], **options) -> int:
        raise NotImplementedError

    def progress_shown(self, total: int, *, verbosity: int, **options) -> bool:
        return verbosity >= 2

    def handle(self, *args, dry_run: bool, as_of: str | None, **options) -> None:
        now = as_of_parse(as_of) or timezone.now()

        def progress(total: int) -> None:
            if self.progress_shown(total, **options):  # stderr: stdout keeps the count
                self.stderr.write(f"… {total} {self.past.lower()} so far")

        if dry_run:
            count = self.run(now=now, dry_run=dry_run, progress=progress, **options)
        else:
            with job_run(job_name(self.task)):  # the health page and /metrics see cron's runs too
                count = self.run(now=now, dry_run=dry_run, progress=progress, **options)
        noun = self.noun if count == 1 else f"{self.noun}s"
        if dry_run:
            self.stdout.write(
                f"Would {self.verb} {count} {noun} as of {now.isoformat()} (dry run: nothing changed)."
            )
        else:
            self.stdout.write(f"{self.past} {count} {noun} as of {now.isoformat()}.")
