"""The report's figures: the rows of its aggregate queries as plain, JSON-safe lists
(dates and money as text), each `[*keys, *counts]`. They add up: figures of two sets of
enrollments (two days, or the days kept and the enrollments begun since) are their
keys' counts summed (`figures_add`) — every count is of rows or of distinct enrollments,
and an enrollment belongs to one day, the day it began. So a day's figures can be kept
(`automation.cockpit.reports.days`) and the report read from them.

`plan_figures(by_day=True)` puts the day the enrollments began (site timezone) first in
every key: what the daily roll-up keeps.
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Case, Count, F, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from automation.cockpit.reports.rows import LATEST_POOL, MOVES
from automation.models import Enrollment, EnrollmentStatus, EnrollmentStep, Plan
from contacts.models import Contact
from messaging.models import OutboundMessage
from tracking.models import GoalConversion, Interaction, TrackedLink

# Figure → how many of its leading columns are keys (the rest are counts, summed).
KEYS = {
    "outcomes": 2,  # enrolled day, status → n
    "reached": 1,  # step → distinct enrollments
    "moves": 3,  # from, to, via → n, with a message (an event or an answer)
    "ends": 2,  # step, status → n
    "goals": 3,  # goal id, goal name, day reached → n, points, revenue
    "delivery": 2,  # step, status → n, mms, whatsapp, sms segments
    "links": 1,  # url → sent, clicked, clicks
    "clicks": 2,  # step of the text, day first clicked → links, texts
    "opt_outs": 1,  # step of the last text got → n
    "branches": 2,  # split, branch → distinct enrollments
    "branch_goals": 3,  # split, branch, goal id → distinct enrollments, revenue
    "branch_clicks": 2,  # split, branch → enrollments that opened a link sent after the split
    "answers": 3,  # ask step, value kind, value (numbers and words only) → n
    "texts": 3,  # ask step, when, text → (none): the latest free texts
}
MAX_ANSWER_GROUPS = 5000


def enrolled_window(date_from: date | None, date_to: date | None, *, since=None, until=None) -> dict:
    """The filters on `enrolled_at` for the days `date_from` to `date_to` (inclusive, in the
    site's timezone). A day at the calendar's edge (the date picker offers 0001-01-01 and
    9999-12-31), whose start or end no datetime holds, bounds nothing."""
    window = {}
    for lookup, day, after in (("gte", date_from, 0), ("lt", date_to, 1)):
        if day is None:
            continue
        try:
            start = datetime.combine(day + timedelta(days=after), time.min)
            window[lookup] = timezone.make_aware(start).astimezone(UTC)
        except OverflowError:
            pass  # the calendar's edge: no bound
    if since is not None:
        window["gt"] = since
    if until is not None:
        window["lte"] = until
    return window


def plan_cohort(
    *,
    plan: Plan,
    date_from: date | None = None,
    date_to: date | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet:
    """The plan's enrollments enrolled between `date_from` and `date_to` (both inclusive;
    and after `since`, and not after `until`), test contacts left out."""
    cohort = Enrollment.objects.filter(plan=plan).exclude(
        contact_id__in=Contact.objects.filter(is_test=True).values("id")
    )
    window = enrolled_window(date_from, date_to, since=since, until=until)
    return cohort.filter(**{f"enrolled_at__{k}": v for k, v in window.items()})


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _day(path: str):
    return TruncDate(path, tzinfo=timezone.get_current_timezone())


def plan_figures(
    *,
    plan: Plan,
    flow,
    date_from: date | None = None,
    date_to: date | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    by_day: bool = False,
) -> dict[str, list[list]]:
    """Every figure of the cohort (bench/report.py: one aggregate query each, at most 14)."""
    cohort = plan_cohort(plan=plan, date_from=date_from, date_to=date_to, since=since, until=until)
    cohort_ids = cohort.values("id")
    window = enrolled_window(date_from, date_to, since=since, until=until)
    tests = Enrollment.objects.filter(
        plan=plan, contact_id__in=Contact.objects.filter(is_test=True).values("id")
    ).values("id")

    def of_cohort(queryset: QuerySet, *, by_plan: bool = False) -> QuerySet:
        if since is not None:  # a few enrollments begun lately: their rows by their index
            return queryset.filter(enrollment_id__in=cohort_ids)
        queryset = queryset.filter(plan=plan) if by_plan else queryset.filter(enrollment__plan=plan)
        queryset = queryset.exclude(enrollment_id__in=tests)
        return queryset.filter(**{f"enrollment__enrolled_at__{k}": v for k, v in window.items()})

    def rows(queryset: QuerySet, keys: list, path: str = "enrollment__enrolled_at", **counts) -> list[list]:
        if by_day:
            queryset, keys = queryset.annotate(cohort_day=_day(path)), ["cohort_day", *keys]
        return [[_plain(v) for v in row] for row in queryset.values_list(*keys).annotate(**counts).order_by()]

    steps = of_cohort(EnrollmentStep.objects.all(), by_plan=True)
    goals = GoalConversion.objects.filter(enrollment_id__in=cohort_ids)
    links = TrackedLink.objects.filter(enrollment_id__in=cohort_ids)
    outbound = of_cohort(OutboundMessage.objects.all())
    whatsapp = Q(interaction__channel=Interaction.Channel.WHATSAPP)
    figures = {
        "outcomes": rows(
            cohort.annotate(day=_day("enrolled_at")), ["day", "status"], "enrolled_at", n=Count("id")
        ),
        "reached": rows(steps, ["step_id"], n=Count("enrollment_id", distinct=True)),
        "moves": rows(
            steps.filter(via__in=[*MOVES, EnrollmentStep.Via.COMPLETE]).exclude(from_step_id=""),
            ["from_step_id", "step_id", "via"],
            n=Count("id"),
            told=Count("interaction_id"),
        ),
        "ends": rows(cohort, ["step_id", "status"], "enrolled_at", n=Count("id")),
        "goals": rows(
            goals.annotate(day=_day("occurred_at")),
            ["goal_id", "goal__name", "day"],
            n=Count("id"),
            points=Sum("points"),
            revenue=Sum("value"),
        ),
        "delivery": rows(
            outbound,
            ["step_id", "status"],
            n=Count("id"),
            mms=Count("id", filter=~whatsapp & ~Q(media_urls=[])),
            whatsapp=Count("id", filter=whatsapp),
            segments=Sum("segments", filter=~whatsapp & Q(media_urls=[])),
        ),
        "links": rows(
            links,
            ["url"],
            sent=Count("id"),
            clicked=Count("id", filter=Q(first_clicked_at__isnull=False)),
            clicks=Sum("clicks"),
        ),
    }
    figures["clicks"] = figures["opt_outs"] = []
    if figures["links"]:
        figures["clicks"] = rows(
            links.filter(first_clicked_at__isnull=False).annotate(day=_day("first_clicked_at")),
            ["interaction__outbound__step_id", "day"],
            n=Count("id"),
            texts=Count("interaction_id", distinct=True),
        )
    if any(row[-2] == EnrollmentStatus.OPTED_OUT for row in figures["ends"]):
        last_text = OutboundMessage.objects.filter(enrollment_id=OuterRef("pk")).exclude(step_id="")
        figures["opt_outs"] = rows(
            cohort.filter(status=EnrollmentStatus.OPTED_OUT).annotate(
                last_text=Subquery(last_text.order_by("-id").values("step_id")[:1])
            ),
            ["last_text"],
            "enrolled_at",
            n=Count("id"),
        )
    figures.update(_flow_figures(flow, steps, rows, clicks=bool(figures["links"]), by_day=by_day))
    return figures


def _flow_figures(flow, steps: QuerySet, rows, *, clicks: bool, by_day: bool) -> dict[str, list[list]]:
    """The A/B splits' and the answers' figures (when the flow has them)."""
    out = {key: [] for key in ("branches", "branch_goals", "branch_clicks", "answers", "texts")}
    if flow is None:
        return out
    if any(flow.steps[s].kind.branches(flow.steps[s].data) for s in flow.order):
        taken = steps.filter(value_kind=EnrollmentStep.ValueKind.BRANCH)
        keys = ["from_step_id", "value"]
        out["branches"] = rows(taken, keys, n=Count("enrollment_id", distinct=True))
        out["branch_goals"] = rows(
            taken.filter(enrollment__goal_conversions__isnull=False),
            [*keys, "enrollment__goal_conversions__goal_id"],
            n=Count("enrollment_id", distinct=True),
            revenue=Sum("enrollment__goal_conversions__value"),
        )
        if clicks:
            out["branch_clicks"] = rows(
                taken.filter(
                    enrollment__tracked_links__first_clicked_at__isnull=False,
                    enrollment__tracked_links__created_at__gte=F("occurred_at"),  # sent after the split
                ),
                keys,
                n=Count("enrollment_id", distinct=True),
            )
    if any(flow.steps[s].kind.reports_answers for s in flow.order):
        kinds = EnrollmentStep.ValueKind
        # Free texts and private answers are counted, not grouped by what they say.
        shown = Case(When(value_kind__in=[kinds.NUMBER, kinds.CHOICE], then=F("value")), default=Value(""))
        answers = steps.exclude(value_kind__in=["", kinds.BRANCH]).annotate(shown=shown)
        out["answers"] = rows(answers, ["from_step_id", "value_kind", "shown"], n=Count("id"))[
            :MAX_ANSWER_GROUPS
        ]
        # The latest free texts of the plan (an index holds them newest first).
        latest = steps.filter(value_kind=kinds.TEXT).order_by("-occurred_at", "-id")
        if by_day:
            latest = latest.annotate(cohort_day=_day("enrollment__enrolled_at"))
        keys = ["cohort_day"] * by_day + ["from_step_id", "occurred_at", "value"]
        out["texts"] = [[_plain(v) for v in row] for row in latest.values_list(*keys)[:LATEST_POOL]]
    return out


def figures_add(parts: list[dict[str, list[list]]]) -> dict[str, list[list]]:
    """The figures of several sets of enrollments as one (each key's counts summed; the
    latest texts: the newest of all)."""
    total: dict[str, dict[tuple, list]] = {name: {} for name in KEYS}
    for part in parts:
        for name, n_keys in KEYS.items():
            into = total[name]
            for row in part.get(name, []):
                key, counts = tuple(row[:n_keys]), row[n_keys:]
                if key not in into:
                    into[key] = list(counts)
                    continue
                into[key] = [_add(a, b) for a, b in zip(into[key], counts, strict=True)]
    out = {name: [[*key, *counts] for key, counts in rows.items()] for name, rows in total.items()}
    out["texts"] = sorted(out["texts"], key=lambda row: row[1], reverse=True)[:LATEST_POOL]
    return out


def _add(a, b):
    if a is None or b is None:
        return b if a is None else a
    if isinstance(a, str) or isinstance(b, str):
        return str(Decimal(a) + Decimal(b))  # money, kept as text
    return a + b
