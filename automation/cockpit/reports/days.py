"""The report's daily roll-up (bench/report.py): each plan's figures per day its
enrollments began, kept by a periodic job (`report_days_refresh_task`, every
`REPORT_DAYS_EVERY`), so that the report adds a range's days (one query) and counts live
only the enrollments begun since the job last ran.

What the job refreshes: the days whose figures may still change — a day with an
enrollment still active, or one that ended or began within `SETTLED_AFTER` — and any day
not kept yet. A settled day is not read again: a click or a delivery receipt that comes
more than a week after its journey ended is left out (`report_days_refresh(full=True)`
counts everything again). Between two runs,
what enrollments already kept did since (an answer, a click) shows at the next run.
"""

from datetime import date, datetime, timedelta

from django.db.models import Max, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from automation.cockpit.reports.figures import figures_add, plan_cohort, plan_figures
from automation.engine.revisions import revision_flow
from automation.models import EnrollmentStatus, Plan, ReportDay

SETTLED_AFTER = timedelta(days=7)


def plan_flow(plan: Plan):
    """The steps the report follows: the published revision's (else the draft's); cached."""
    revision_id = plan.published_id or plan.revisions.order_by("-number").values_list("pk", flat=True).first()
    return revision_flow(revision_id) if revision_id else None


def report_days_refresh(*, plan: Plan, full: bool = False, now: datetime | None = None) -> int:
    """Count again the plan's days that may have changed (`full`: every day); returns how
    many days it kept."""
    now = now or timezone.now()
    cohort = plan_cohort(plan=plan, until=now)
    if not full:
        open_days = cohort.filter(
            Q(status=EnrollmentStatus.ACTIVE)
            | Q(ended_at__gte=now - SETTLED_AFTER)
            | Q(enrolled_at__gte=now - SETTLED_AFTER)
        )
        kept = set(ReportDay.objects.filter(plan=plan).values_list("day", flat=True))
        days = _days(open_days) | (_days(cohort) - kept)
    else:
        days = _days(cohort)
    if not days:
        return 0
    first, last = min(days), max(days)
    by_day: dict[str, list[dict]] = {}
    figures = plan_figures(
        plan=plan, flow=plan_flow(plan), date_from=first, date_to=last, until=now, by_day=True
    )
    for name, rows in figures.items():
        for row in rows:
            by_day.setdefault(row[0], []).append({name: [row[1:]]})
    kept_days = []
    for day, parts in by_day.items():
        if day is None or date.fromisoformat(day) not in days:
            continue
        kept_days.append(ReportDay(plan=plan, day=day, figures=figures_add(parts), computed_at=now))
    ReportDay.objects.bulk_create(
        kept_days,
        update_conflicts=True,
        unique_fields=["plan", "day"],
        update_fields=["figures", "computed_at"],
    )
    # Every kept day says the same moment: what began after it is counted live.
    ReportDay.objects.filter(plan=plan).update(computed_at=now)
    return len(kept_days)


def _days(queryset) -> set[date]:
    day = TruncDate("enrolled_at", tzinfo=timezone.get_current_timezone())
    return set(queryset.annotate(day=day).values_list("day", flat=True).distinct().order_by())


def report_figures(
    *, plan: Plan, flow, date_from: date | None, date_to: date | None
) -> tuple[dict, datetime | None]:
    """The figures of the report's range: the kept days of the range, plus the enrollments
    of the range begun since they were counted (all of it live when no day is kept); and
    when the kept days were counted (None: all live)."""
    since = ReportDay.objects.filter(plan=plan).aggregate(at=Max("computed_at"))["at"]
    if since is None:
        return plan_figures(plan=plan, flow=flow, date_from=date_from, date_to=date_to), None
    live = {}
    if plan_cohort(plan=plan, date_from=date_from, date_to=date_to, since=since).exists():
        live = plan_figures(plan=plan, flow=flow, date_from=date_from, date_to=date_to, since=since)
    kept = ReportDay.objects.filter(plan=plan)
    if date_from is not None:
        kept = kept.filter(day__gte=date_from)
    if date_to is not None:
        kept = kept.filter(day__lte=date_to)
    return figures_add([*kept.values_list("figures", flat=True), live]), since
