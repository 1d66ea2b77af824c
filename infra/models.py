"""What the operators' views read about the processes themselves (docs/reference.md §9):
each periodic job's last run and each worker's last sign of life. Written by ``infra.jobs``;
a few rows, one per job and one per process."""

from django.db import models


class JobRun(models.Model):
    """The last runs of one periodic job (a name of ``CELERY_BEAT_SCHEDULE``), whoever ran it:
    beat's worker, the in-process scheduler or cron's command."""

    job = models.CharField(max_length=100, unique=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    last_seconds = models.FloatField(null=True, blank=True, help_text="How long the last success took.")

    class Meta:
        ordering = ["job"]

    def __str__(self) -> str:
        return self.job


class Heartbeat(models.Model):
    """A process that does the background work — a Celery worker, or a web process running
    the in-process jobs (no broker) — and when it last said it was alive."""

    class Kind(models.TextChoices):
        WORKER = "worker", "Worker"
        IN_PROCESS = "in_process", "Web process running the jobs (no broker)"

    name = models.CharField(max_length=200, unique=True)  # host and process id
    kind = models.CharField(max_length=16, choices=Kind.choices)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return self.name
