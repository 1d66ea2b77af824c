"""The plan report: outcomes, funnel, goals and delivery of one plan's enrollments.

Always five aggregate queries, whatever the number of enrollments (no per-row loops):
states, enrollment counts by status, the funnel (distinct enrollments per state entered),
goal conversions, and delivery outcomes of the plan's messages. The cohort is the plan's
enrollments enrolled in the date range (inclusive, in the site's timezone); test
contacts (the simulator's) are left out everywhere.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from automation.models import Enrollment, EnrollmentStatus, EnrollmentStep, Plan
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
    state_id: int
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


def _by_states(queryset: QuerySet, *, plan: Plan, states: list[dict], date_from, date_to) -> QuerySet:
    """Rows (steps, outbound messages) of the plan's states, of the cohort's enrollments."""
    queryset = queryset.filter(state_id__in=[s["id"] for s in states]).exclude(
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

    # 1. States, in authoring order.
    states = list(plan.states.order_by("position", "id").values("id", "name", "is_start", "is_final"))

    # 2. Outcomes: one pass, one count per status.
    counts = cohort.aggregate(
        enrolled=Count("id"),
        **{status.value: Count("id", filter=Q(status=status.value)) for status in OUTCOMES},
    )
    report.enrolled = counts.pop("enrolled")
    report.outcomes = counts

    # 3. Funnel: how many distinct enrollments ever entered each state. Steps are picked
    # by the plan's states (a state belongs to one plan), not by joining every enrollment
    # of the plan: only the test contacts' few enrollments are looked up, and the
    # enrollments themselves only when a date range narrows the cohort.
    steps = _by_states(
        EnrollmentStep.objects.all(), plan=plan, states=states, date_from=date_from, date_to=date_to
    )
    reached = dict(steps.values_list("state_id").annotate(n=Count("enrollment_id", distinct=True)).order_by())
    report.funnel = [
        FunnelRow(
            state_id=s["id"],
            name=s["name"],
            is_start=s["is_start"],
            is_final=s["is_final"],
            reached=reached.get(s["id"], 0),
            percent=_percent(reached.get(s["id"], 0), report.enrolled),
        )
        for s in states
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
    # causes names its state; picked by state as the steps are).
    outbound = _by_states(
        OutboundMessage.objects.all(), plan=plan, states=states, date_from=date_from, date_to=date_to
    )
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
