"""`manage.py process_timeouts [--dry-run] [--as-of ISO8601]` (docs/reference.md §4).

A thin door onto ``automation.engine.enrollment_timeouts_fire``: every timer that is due
moves its enrollment on: an ask's or wait_event's timeout (e.g. the reminder), a delay. Safe from
cron and concurrently with live traffic and with Celery beat's copy of the same job.
"""

from automation.engine import enrollment_timeouts_fire
from automation.management.scheduled import ScheduledJobCommand


class Command(ScheduledJobCommand):
    help = "Fire every timer that is due: ask and wait_event timeouts, delays (as of now, or of --as-of)."
    task = "automation.tasks.enrollment_timeouts_fire_task"
    verb, past, noun = "fire", "Fired", "timeout"

    def run(self, *, now, dry_run, progress, **options) -> int:
        return enrollment_timeouts_fire(now=now, dry_run=dry_run, progress=progress)
