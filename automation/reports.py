"""The plan report, following the flow: outcomes, each step (how many reached it and
where they went from it), each A/B split (per branch: enrolled, each goal reached, the
conversion rate and whether the difference is significant), the answers given at ask
steps (counts of numbers and words, the latest free texts), goals with the revenue they
brought (the value of the events that converted them, CONTRACT §7) and delivery.

At most twelve aggregate queries, whatever the plan's size or the number of enrollments
(no per-row loops; bench/report.py): outcomes by status; reached per step; moves between
steps; where enrollments ended or wait; goals; delivery; tracked links; enrollments per
branch; goals per branch; links opened per branch (when the texts carried links); answer
counts; the latest free texts. The cohort is the plan's enrollments
enrolled in the date range (inclusive, in the site's timezone); test contacts (the
simulator's) are left out everywhere. Step rows carry their plan, so they are read
without joining the enrollments unless a date range asks for it.

Significance: a two-proportion z-test (two-sided) of each branch's conversion rate
against the first branch's, per goal; "significant" when p < 0.05 with at least 30
enrollments in each branch.
"""

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Case, Count, F, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from automation.models import Enrollment, EnrollmentStatus, EnrollmentStep, Plan
from automation.revisions import revision_flow
from contacts.models import Contact
from messaging.models import DeliveryStatus, OutboundMessage
from tracking.models import GoalConversion, TrackedLink

SIGNIFICANCE = 0.05
MIN_PER_BRANCH = 30
LATEST_TEXTS = 5
LATEST_POOL = 500  # the plan's latest free texts the report picks each step's from
MAX_COUNTED = 12  # values shown per ask step (the most frequent)
MAX_LINKS = 20  # tracked URLs shown (the most clicked)
# Ways an enrollment moves from one step to another (the other vias end it or start it).
MOVES = ("reply", "timeout", "event", "http", "step")

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
    """A step: how many enrollments reached it, and where they went from it."""

    step_id: str
    name: str
    is_start: bool
    is_final: bool
    reached: int
    percent: float  # of the enrollments in the cohort
    kind: str = ""
    went: list[tuple[str, int]] = field(default_factory=list)  # (where, how many), most first


@dataclass
class BranchRow:
    name: str
    weight: float
    enrolled: int
    goals: list[tuple[str, int, float, float | None]]  # (goal, reached, rate %, p-value vs. first)
    revenue: Decimal | None = None  # the value of the events that converted its goals

    def significant(self, p: float | None, others: int) -> bool:
        return p is not None and p < SIGNIFICANCE and min(self.enrolled, others) >= MIN_PER_BRANCH


@dataclass
class SplitReport:
    step_id: str
    name: str
    branches: list[BranchRow]
    goal_names: list[str]


@dataclass
class AnswerReport:
    step_id: str
    name: str
    counts: list[tuple[str, int]] = field(default_factory=list)  # numbers and words, most first
    texts: list[str] = field(default_factory=list)  # the latest free texts
    private: int = 0  # emails and phones: counted, not shown
    total: int = 0


@dataclass
class GoalRow:
    goal_id: int
    name: str
    conversions: int
    points: int
    revenue: Decimal | None = None  # the value of the events that converted it (None: none had one)


@dataclass
class LinkRow:
    """A tracked URL of the plan's texts: in how many messages it went, how many of them
    were clicked (by a person: previews are not counted), and the clicks in all."""

    url: str
    sent: int
    clicked: int
    clicks: int

    @property
    def rate(self) -> float:
        return _percent(self.clicked, self.sent)


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
    splits: list[SplitReport] = field(default_factory=list)
    answers: list[AnswerReport] = field(default_factory=list)
    links: list[LinkRow] = field(default_factory=list)

    @property
    def outcome_rows(self) -> list[tuple[str, str, int]]:
        return [(s.value, s.label, self.outcomes.get(s.value, 0)) for s in OUTCOMES]

    @property
    def conversions(self) -> int:
        return sum(g.conversions for g in self.goals)

    @property
    def revenue(self) -> Decimal | None:
        """The value of the events (CONTRACT §7: a purchase's amount) that converted the
        plan's goals; None when no conversion carried one."""
        values = [g.revenue for g in self.goals if g.revenue is not None]
        return sum(values, Decimal(0)) if values else None

    @property
    def has_revenue(self) -> bool:
        return self.revenue is not None or any(b.revenue is not None for s in self.splits for b in s.branches)


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


def _test_enrollments(plan: Plan) -> QuerySet:
    return Enrollment.objects.filter(
        plan=plan, contact_id__in=Contact.objects.filter(is_test=True).values("id")
    ).values("id")


def _of_cohort(queryset: QuerySet, *, plan: Plan, date_from, date_to, by_plan: bool = False) -> QuerySet:
    """Rows (steps, outbound messages) of the cohort's enrollments; `by_plan`: the rows
    name their plan (steps), so no join is needed without a date range."""
    queryset = queryset.filter(plan=plan) if by_plan else queryset.filter(enrollment__plan=plan)
    queryset = queryset.exclude(enrollment_id__in=_test_enrollments(plan))
    if date_from:
        queryset = queryset.filter(enrollment__enrolled_at__gte=_day_start(date_from))
    if date_to:
        queryset = queryset.filter(enrollment__enrolled_at__lt=_day_start(date_to + timedelta(days=1)))
    return queryset


def two_proportion_p(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """The two-sided p-value of a two-proportion z-test (pooled): how likely rates this far
    apart are if both branches convert alike. None when it cannot be computed."""
    if n1 == 0 or n2 == 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return None if x1 / n1 == x2 / n2 else 0.0
    z = (x1 / n1 - x2 / n2) / spread
    return math.erfc(abs(z) / math.sqrt(2))


_END_WORDS = {
    EnrollmentStatus.ACTIVE: "waiting here now",
    EnrollmentStatus.COMPLETED: "completed here",
    EnrollmentStatus.EXPIRED: "expired here",
    EnrollmentStatus.OPTED_OUT: "opted out here",
    EnrollmentStatus.EXITED: "left for another plan here",
    EnrollmentStatus.FAILED: "failed here",
}


def plan_report(*, plan: Plan, date_from: date | None = None, date_to: date | None = None) -> PlanReport:
    report = PlanReport(plan=plan, date_from=date_from, date_to=date_to)
    cohort = plan_cohort(plan=plan, date_from=date_from, date_to=date_to)
    cohort_ids = cohort.values("id")
    window = {"plan": plan, "date_from": date_from, "date_to": date_to}
    steps = _of_cohort(EnrollmentStep.objects.all(), by_plan=True, **window)

    # The steps, as the published revision (else the draft) lists them (cached: no query).
    revision_id = plan.published_id or plan.revisions.order_by("-number").values_list("pk", flat=True).first()
    flow = revision_flow(revision_id) if revision_id else None
    names = {step_id: step.name for step_id, step in flow.steps.items()} if flow else {}

    # 1. Outcomes: one pass, one count per status.
    counts = cohort.aggregate(
        enrolled=Count("id"),
        **{status.value: Count("id", filter=Q(status=status.value)) for status in OUTCOMES},
    )
    report.enrolled = counts.pop("enrolled")
    report.outcomes = counts

    # 2. Reached: how many distinct enrollments ever entered each step.
    reached = dict(steps.values_list("step_id").annotate(n=Count("enrollment_id", distinct=True)).order_by())
    # 3. Moves between steps, and 4. where enrollments ended (or wait now).
    went: dict[str, list[tuple[str, int]]] = {}
    moves = (
        steps.filter(via__in=MOVES)
        .exclude(from_step_id="")
        .values_list("from_step_id", "step_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for source, target, n in moves:
        went.setdefault(source, []).append((f"→ {names.get(target, target)}", n))
    for step_id, status, n in cohort.values_list("step_id", "status").annotate(n=Count("id")).order_by():
        went.setdefault(step_id, []).append((_END_WORDS.get(status, status), n))
    if flow is not None:
        for step_id in flow.order:
            step = flow.steps[step_id]
            exits = step.kind.exits(step.data)
            n = reached.get(step_id, 0)
            report.funnel.append(
                FunnelRow(
                    step_id=step_id,
                    name=step.name,
                    is_start=step_id == flow.start,
                    is_final=all(e.target is None for e in exits),
                    reached=n,
                    percent=_percent(n, report.enrolled),
                    kind=step.kind.description,
                    went=sorted(went.get(step_id, []), key=lambda w: -w[1]),
                )
            )
        # Start first, final steps last; otherwise authoring order.
        report.funnel.sort(key=lambda row: (not row.is_start, row.is_final))

    # 5. Goals reached by the cohort and the engagement value they earned.
    goal_rows = (
        GoalConversion.objects.filter(enrollment_id__in=cohort_ids)
        .values("goal_id", "goal__name")
        .annotate(n=Count("id"), points=Sum("points"), revenue=Sum("value"))
        .order_by("goal__name")
    )
    report.goals = [
        GoalRow(
            goal_id=g["goal_id"],
            name=g["goal__name"],
            conversions=g["n"],
            points=g["points"] or 0,
            revenue=g["revenue"],
        )
        for g in goal_rows
    ]
    report.engagement_value = sum(g.points for g in report.goals)

    # 6. Delivery outcomes of the messages sent to the cohort (every message an enrollment
    # causes names it).
    outbound = _of_cohort(OutboundMessage.objects.all(), **window)
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

    # 7. Tracked links in the cohort's messages: sent, clicked, clicks.
    links = (
        TrackedLink.objects.filter(enrollment_id__in=cohort_ids)
        .values("url")
        .annotate(
            sent=Count("id"),
            clicked=Count("id", filter=Q(first_clicked_at__isnull=False)),
            clicks=Sum("clicks"),
        )
        .order_by("-clicked", "url")[:MAX_LINKS]
    )
    report.links = [LinkRow(row["url"], row["sent"], row["clicked"], row["clicks"] or 0) for row in links]

    if flow is not None:
        report.splits = _splits(flow, steps, clicks=bool(report.links))
        report.answers = _answers(flow, steps)
    return report


OPENED_A_LINK = "Opened a link"


def _splits(flow, steps: QuerySet, *, clicks: bool = False) -> list[SplitReport]:
    """Queries 8 and 9: enrollments per branch, and per branch and goal (with the revenue
    its conversions carried); with `clicks` (the plan's texts carried tracked links), a
    twelfth: per branch, the enrollments a person opened a link of — compared like a goal,
    the click-through of each branch."""
    splits = [flow.steps[s] for s in flow.order if flow.steps[s].type == "split_random"]
    if not splits:
        return []
    taken = steps.filter(value_kind=EnrollmentStep.ValueKind.BRANCH)
    enrolled = {
        (split, branch): n
        for split, branch, n in taken.values_list("from_step_id", "value")
        .annotate(n=Count("enrollment_id", distinct=True))
        .order_by()
    }
    converted, revenue = {}, {}
    for split, branch, goal, n, value in (
        taken.filter(enrollment__goal_conversions__isnull=False)
        .values_list("from_step_id", "value", "enrollment__goal_conversions__goal_id")
        .annotate(n=Count("enrollment_id", distinct=True), revenue=Sum("enrollment__goal_conversions__value"))
        .order_by()
    ):
        converted[split, branch, goal] = n
        if value is not None:
            revenue[split, branch] = revenue.get((split, branch), Decimal(0)) + value
    goals = [(goal.name, flow.goal_ids.get(goal.slug)) for goal in flow.goals.values()]
    if clicks:
        for split, branch, n in (
            taken.filter(enrollment__tracked_links__first_clicked_at__isnull=False)
            .values_list("from_step_id", "value")
            .annotate(n=Count("enrollment_id", distinct=True))
            .order_by()
        ):
            converted[split, branch, OPENED_A_LINK] = n
        goals.append((OPENED_A_LINK, OPENED_A_LINK))
    out = []
    for step in splits:
        rows = []
        first = None
        for branch in step.data["branches"]:
            n = enrolled.get((step.id, branch["name"]), 0)
            cells = []
            for index, (name, key) in enumerate(goals):
                x = converted.get((step.id, branch["name"], key), 0)
                p = None
                if first is not None:
                    p = two_proportion_p(x, n, first.goals[index][1], first.enrolled)
                cells.append((name, x, _percent(x, n), p))
            row = BranchRow(
                name=branch["name"],
                weight=branch["weight"],
                enrolled=n,
                goals=cells,
                revenue=revenue.get((step.id, branch["name"])),
            )
            first = first or row
            rows.append(row)
        out.append(
            SplitReport(
                step_id=step.id, name=step.name, branches=rows, goal_names=[name for name, _ in goals]
            )
        )
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _answers(flow, steps: QuerySet) -> list[AnswerReport]:
    """The last two queries (11 and 12; 10 and 11 without link clicks): how often each
    number or word was answered at each ask step (the most frequent), and the latest free
    texts."""
    asks = [flow.steps[s] for s in flow.order if flow.steps[s].type == "ask"]
    if not asks:
        return []
    kinds = EnrollmentStep.ValueKind
    reports = {step.id: AnswerReport(step_id=step.id, name=step.name) for step in asks}
    # Free texts and private answers are counted, not grouped by what they say.
    shown = Case(When(value_kind__in=[kinds.NUMBER, kinds.CHOICE], then=F("value")), default=Value(""))
    counted = (
        steps.exclude(value_kind__in=["", kinds.BRANCH])
        .values_list("from_step_id", "value_kind", shown)
        .annotate(n=Count("id"))
        .order_by("-n")[:5000]
    )
    for step_id, kind, value, n in counted:
        answer = reports.get(step_id)
        if answer is None:
            continue
        answer.total += n
        if kind == kinds.PRIVATE:
            answer.private += n
        elif kind in (kinds.NUMBER, kinds.CHOICE) and len(answer.counts) < MAX_COUNTED:
            answer.counts.append((value, n))
    for answer in reports.values():
        if answer.counts and all(_is_number(v) for v, _ in answer.counts):
            answer.counts.sort(key=lambda c: float(c[0]))  # a scale reads in order: 1, 2, 3 …
    # The latest free texts of the plan (an index holds them newest first), a few per step.
    latest = (
        steps.filter(value_kind=kinds.TEXT)
        .order_by("-occurred_at", "-id")
        .values_list("from_step_id", "value")[:LATEST_POOL]
    )
    for step_id, value in latest:
        if step_id in reports and len(reports[step_id].texts) < LATEST_TEXTS:
            reports[step_id].texts.append(value)
    return [r for r in reports.values() if r.total]
