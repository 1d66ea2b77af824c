"""Reads of automation's data that the project's doors use (/metrics: docs/reference.md §9)."""

from django.db.models import Count

from automation.models import Enrollment, EnrollmentStatus


def enrollments_by_status() -> dict[str, int]:
    """How many enrollments are in each status (every status, 0 when none). One aggregate
    query (an index-only scan of ``(plan, status)`` on PostgreSQL)."""
    counts = dict.fromkeys(EnrollmentStatus.values, 0)
    for row in Enrollment.objects.values("status").annotate(n=Count("id")).order_by():
        counts[row["status"]] = row["n"]
    return counts
