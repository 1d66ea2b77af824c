"""The plan report: outcomes, funnel, goals and delivery of one plan's enrollments.

Always five aggregate queries, whatever the number of enrollments (no per-row loops):
enrollment counts by status, the funnel (distinct enrollments per step entered),
goal conversions, and delivery outcomes of the plan's messages. The cohort is the plan's
enrollments enrolled in the date range (inclusive, in the site's timezone); test
contacts (the simulator's) are left out everywhere.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from automation.models import Enrollment, EnrollmentStatus, EnrollmentStep, Plan
from automation.revisions import revision_flow
from contacts.models import Contact
from messaging.models import DeliveryStatus, OutboundMessage
from tracking.models import GoalConversion

OUTCOMES = [
    EnrollmentStatus.ACTIVE,
    EnrollmentStatus.COMPLETED,
    EnrollmentStatus.EXPIRED,
    EnrollmentStatus.OPTED_OUT,
    EnrollmentStatus.EXITED,
    EnrollmentStatus.FAILED,
]


@dataclass
class FunnelRow:
    step_id: str
    name: str
    is_start: bool
    is_final: bool
    reached: int
    percent: float  # of the enrollments in the cohort


@dataclass
class GoalRow:
    goal_id: int
    name: str
    conversions: int
    points: int


@dataclass
class DeliveryRow:
    status: str
    label: str
    count: int
    percent: float


@dataclass
class PlanReport:
    plan: Plan
    date_from: date | None
    date_to: date | None
    enrolled: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # status value → count
    funnel: list[FunnelRow] = field(default_factory=list)
    goals: list[GoalRow] = field(default_factory=list)
    engagement_value: int = 0
    delivery: list[DeliveryRow] = field(default_factory=list)
    messages: int = 0

    @property
    def outcome_rows(self) -> list[tuple[str, str, int]]:
        return [(s.value, s.label, self.outcomes.get(s.value, 0)) for s in OUTCOMES]

    @property
    def conversions(self) -> int:
        return sum(g.conversions for g in self.goals)


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def plan_cohort(*, plan: Plan, date_from: date | None = None, date_to: date | None = None) -> QuerySet:
    """The plan's enrollments enrolled between `date_from` and `date_to` (both inclusive),
    test contacts left out."""
    cohort = Enrollment.objects.filter(plan=plan).exclude(
        contact_id__in=Contact.objects.filter(is_test=True).values("id")
    )
    if date_from:
        cohort = cohort.filter(enrolled_at__gte=_day_start(date_from))
    if date_to:
        cohort = cohort.filter(enrolled_at__lt=_day_start(date_to + timedelta(days=1)))
    return cohort


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def _of_cohort(queryset: QuerySet, *, plan: Plan, date_from, date_to) -> QuerySet:
    """Rows (steps, outbound messages) of the cohort's enrollments."""
    queryset = queryset.filter(enrollment__plan=plan).exclude(
        enrollment_id__in=Enrollment.objects.filter(
            plan=plan, contact_id__in=Contact.objects.filter(is_test=True).values("id")
        ).values("id")
    )
    if date_from:
        queryset = queryset.filter(enrollment__enrolled_at__gte=_day_start(date_from))
    if date_to:
        queryset = queryset.filter(enrollment__enrolled_at__lt=_day_start(date_to + timedelta(days=1)))
    return queryset


def plan_report(*, plan: Plan, date_from: date | None = None, date_to: date | None = None) -> PlanReport:
    report = PlanReport(plan=plan, date_from=date_from, date_to=date_to)
    cohort = plan_cohort(plan=plan, date_from=date_from, date_to=date_to)
    cohort_ids = cohort.values("id")

    # 1. Steps, as the published revision (else the draft) lists them.
    revision_id = plan.published_id or plan.revisions.order_by("-number").values_list("pk", flat=True).first()
    flow = revision_flow(revision_id) if revision_id else None
    steps_shown = []
    if flow is not None:
        for step_id in flow.order:
            step = flow.steps[step_id]
            exits = step.kind.exits(step.data)
            steps_shown.append(
                {
                    "id": step_id,
                    "name": step.name,
                    "is_start": step_id == flow.start,
                    "is_final": all(e.target is None for e in exits),
                }
            )

    # 2. Outcomes: one pass, one count per status.
    counts = cohort.aggregate(
        enrolled=Count("id"),
        **{status.value: Count("id", filter=Q(status=status.value)) for status in OUTCOMES},
    )
    report.enrolled = counts.pop("enrolled")
    report.outcomes = counts

    # 3. Funnel: how many distinct enrollments ever entered each step.
    steps = _of_cohort(EnrollmentStep.objects.all(), plan=plan, date_from=date_from, date_to=date_to)
    reached = dict(steps.values_list("step_id").annotate(n=Count("enrollment_id", distinct=True)).order_by())
    report.funnel = [
        FunnelRow(
            step_id=s["id"],
            name=s["name"],
            is_start=s["is_start"],
            is_final=s["is_final"],
            reached=reached.get(s["id"], 0),
            percent=_percent(reached.get(s["id"], 0), report.enrolled),
        )
        for s in steps_shown
    ]
    # Start first, final states last; otherwise authoring order.
    report.funnel.sort(key=lambda row: (not row.is_start, row.is_final))

    # 4. Goals reached by the cohort and the engagement value they earned.
    goal_rows = (
        GoalConversion.objects.filter(enrollment_id__in=cohort_ids)
        .values("goal_id", "goal__name")
        .annotate(n=Count("id"), points=Sum("points"))
        .order_by("goal__name")
    )
    report.goals = [
        GoalRow(goal_id=g["goal_id"], name=g["goal__name"], conversions=g["n"], points=g["points"] or 0)
        for g in goal_rows
    ]
    report.engagement_value = sum(g.points for g in report.goals)

    # 5. Delivery outcomes of the messages sent to the cohort (every message an enrollment
    # causes names it).
    outbound = _of_cohort(OutboundMessage.objects.all(), plan=plan, date_from=date_from, date_to=date_to)
    by_status = dict(outbound.values_list("status").annotate(n=Count("id")).order_by())
    report.messages = sum(by_status.values())
    report.delivery = [
        DeliveryRow(
            status=choice.value,
            label=choice.label,
            count=by_status.get(choice.value, 0),
            percent=_percent(by_status.get(choice.value, 0), report.messages),
        )
        for choice in DeliveryStatus
        if by_status.get(choice.value, 0)
    ]
    return report
