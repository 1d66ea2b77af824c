"""The dashboard's figures (docs/cockpit.md, "The dashboard"): for today, the last 7 or
the last 30 days, and the period just before, the site's inbound messages, replies,
opt-outs, clicks, goal conversions, revenue and failing sends, per day; and per active
plan, enrolled, converted and revenue. Selectors: they read, keyword-only and typed.

**Periods** are days in the site's timezone. "Today" runs from midnight to now and is
compared with yesterday up to the same time; "7 days" and "30 days" are the whole days
before today (today is not over), compared with as many whole days before them.

**How it stays fast** (bench/dashboard.py: 10,000,000 interactions). A day's figures
never change once it is settled — everything is counted on the day it happened: a message
when it was stored, a click on its first click (its ``link_click`` event), a conversion
when it occurred, a failing send on the day it was sent — so a day is counted once, the
day after it ends (``DashboardDay`` rows: the site's and each plan's), by whichever request
or beat run first needs it. What is still moving — yesterday and today — is read live:
one pass per table over the indexed ``created_at``/``occurred_at``/``enrolled_at`` range of
those two days, each figure a ``COUNT(*) FILTER``. A warm dashboard is seven queries
whatever the data (the stored days; the active plans; the live interactions, outgoing
texts, opt-outs, conversions and enrollments); the sending queue and the plans' warnings add theirs
(automation.cockpit.dashboard). Test contacts (the simulator's) are left out everywhere.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from automation.models import DashboardDay, Enrollment, Plan
from contacts.models import ConsentEvent, Contact
from messaging.models import DeliveryStatus, OutboundMessage
from tracking.models import LINK_CLICK, GoalConversion, Interaction

PERIODS = {"today": 1, "7d": 7, "30d": 30}
PERIOD_LABELS = {"today": "Today", "7d": "7 days", "30d": "30 days"}
# The figures of the site, in the order shown; and of a plan.
SITE = ("inbound", "replies", "opt_outs", "clicks", "conversions", "revenue", "failing")
PLAN = ("enrolled", "converted", "revenue")
LABELS = {
    "inbound": "Inbound messages",
    "replies": "Replies",
    "opt_outs": "Opt-outs",
    "clicks": "Clicks",
    "conversions": "Conversions",
    "revenue": "Revenue",
    "failing": "Failing sends",
}
# A figure that is better when it goes down.
LOWER_IS_BETTER = {"opt_outs", "failing"}
FAILING = (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED)
# The chart of "Today" shows this many days (today included).
TODAY_CHART_DAYS = 7


@dataclass(frozen=True)
class Figure:
    key: str
    value: int | Decimal
    previous: int | Decimal

    @property
    def label(self) -> str:
        return LABELS[self.key]

    @property
    def is_money(self) -> bool:
        return self.key == "revenue"

    @property
    def change(self) -> int | None:
        """The change from the period before, in whole percent (None: nothing before)."""
        if not self.previous:
            return None
        return round((self.value - self.previous) * 100 / self.previous)

    @property
    def trend(self) -> str:
        """ "good", "bad" or "flat": how the change reads (opt-outs and failures going up is bad)."""
        if self.value == self.previous:
            return "flat"
        return "good" if (self.value > self.previous) != (self.key in LOWER_IS_BETTER) else "bad"


@dataclass(frozen=True)
class PlanFigures:
    plan: Plan
    enrolled: int
    converted: int
    revenue: Decimal

    @property
    def conversion_rate(self) -> float | None:
        return self.converted * 100 / self.enrolled if self.enrolled else None

    @property
    def revenue_per_recipient(self) -> Decimal | None:
        return (Decimal(self.revenue) / self.enrolled).quantize(Decimal("0.01")) if self.enrolled else None


@dataclass(frozen=True)
class DashboardFigures:
    period: str
    start: datetime
    end: datetime
    figures: list[Figure]
    days: list[tuple[date, dict]]  # the chart: each day's site figures, oldest first
    plans: list[PlanFigures]
    counts: dict = field(default_factory=dict)  # the period's site figures by key

    @property
    def last_day(self) -> date:
        """The period's last day: `end` is the moment after it (today's midnight, or now)."""
        return timezone.localtime(self.end - timedelta(microseconds=1)).date()


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _zero() -> dict:
    return dict.fromkeys((*SITE, *PLAN), 0)


def _not_test(prefix: str = "") -> Q:
    return ~Q(**{f"{prefix}contact_id__in": Contact.objects.filter(is_test=True).values("id")})


def _grouped(qs, field: str, key, aggregates: dict, group: tuple = ()) -> list[dict]:
    """Rows of {"k": key, *group, *figures}: `aggregates` (name → (Count or Sum, column,
    filter or None)) per key. `key` is either a function of the time field giving the
    key to GROUP BY (the days counted once), or {key: function of the field giving its
    range as a Q} — one row per group whose figures are ``FILTER``s per key: no sort, no
    hash of groups (the live pass)."""
    if callable(key):
        values = {"k": key(field)}
        annotations = {n: f(arg, filter=q) for n, (f, arg, q) in aggregates.items()}
        return list(qs.values(*group, **values).annotate(**annotations).order_by())
    annotations = {
        f"{n}_{k}": f(arg, filter=(q & part(field)) if q is not None else part(field))
        for k, part in key.items()
        for n, (f, arg, q) in aggregates.items()
    }
    rows = (
        list(qs.values(*group).annotate(**annotations).order_by()) if group else [qs.aggregate(**annotations)]
    )
    return [
        {"k": k, **{g: row[g] for g in group}, **{n: row[f"{n}_{k}"] for n in aggregates}}
        for row in rows
        for k in key
    ]


def _counted(start: datetime, end: datetime, key, *, plan_ids=None) -> dict:
    """The figures of [start, end) per key (see `_grouped`: a day, or a live part of a
    day). {key: site figures}, and {(key, plan id): plan figures}."""
    site: dict = defaultdict(_zero)
    plans: dict = defaultdict(_zero)
    inbound = Q(direction=Interaction.Direction.INBOUND) & ~Q(channel=Interaction.Channel.API)
    interactions = Interaction.objects.filter(_not_test(), created_at__gte=start, created_at__lt=end)
    clicks = Q(channel=Interaction.Channel.API, body=LINK_CLICK)
    for row in _grouped(
        interactions, "created_at", key, {"inbound": (Count, "id", inbound), "clicks": (Count, "id", clicks)}
    ):
        site[row["k"]].update(inbound=row["inbound"], clicks=row["clicks"])
    texts = OutboundMessage.objects.filter(_not_test(), created_at__gte=start, created_at__lt=end)
    replies = Q(answers_contact=True) & ~Q(status=DeliveryStatus.CANCELED)
    for row in _grouped(
        texts,
        "created_at",
        key,
        {"replies": (Count, "id", replies), "failing": (Count, "id", Q(status__in=FAILING))},
    ):
        site[row["k"]].update(replies=row["replies"], failing=row["failing"])
    opt_outs = ConsentEvent.objects.filter(
        _not_test(), kind=ConsentEvent.Kind.OPT_OUT, occurred_at__gte=start, occurred_at__lt=end
    )
    for row in _grouped(opt_outs, "occurred_at", key, {"n": (Count, "id", None)}):
        site[row["k"]]["opt_outs"] = row["n"]
    earlier = GoalConversion.objects.filter(enrollment_id=OuterRef("enrollment_id")).filter(
        Q(occurred_at__lt=OuterRef("occurred_at"))
        | Q(occurred_at=OuterRef("occurred_at"), id__lt=OuterRef("id"))
    )
    conversions = GoalConversion.objects.filter(
        _not_test(), occurred_at__gte=start, occurred_at__lt=end
    ).annotate(plan_id=F("enrollment__plan_id"))
    first = Q(enrollment__isnull=False) & ~Exists(earlier)
    aggregates = {"n": (Count, "id", None), "revenue": (Sum, "value", None), "first": (Count, "id", first)}
    for row in _grouped(conversions, "occurred_at", key, aggregates, group=("plan_id",)):
        site[row["k"]]["conversions"] += row["n"]
        site[row["k"]]["revenue"] += row["revenue"] or 0
        if row["plan_id"] is not None:
            plans[row["k"], row["plan_id"]]["converted"] += row["first"]
            plans[row["k"], row["plan_id"]]["revenue"] += row["revenue"] or 0
    enrollments = Enrollment.objects.filter(_not_test(), enrolled_at__gte=start, enrolled_at__lt=end)
    if plan_ids is not None:
        enrollments = enrollments.filter(plan_id__in=plan_ids)
    for row in _grouped(enrollments, "enrolled_at", key, {"n": (Count, "id", None)}, group=("plan_id",)):
        plans[row["k"], row["plan_id"]]["enrolled"] = row["n"]
    return {"site": site, "plans": plans}


def dashboard_days_count(*, first: date, last: date) -> int:
    """Count and store the days `first` to `last` (settled days only: the caller's word)
    that are not stored yet; the number of days stored. Two requests at once store each
    day once (the unique constraints; the second's rows are ignored)."""
    stored = set(
        DashboardDay.objects.filter(plan=None, day__range=(first, last)).values_list("day", flat=True)
    )
    wanted = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    missing = [d for d in wanted if d not in stored]
    if not missing:
        return 0
    tz = timezone.get_current_timezone()
    counted = _counted(
        _midnight(missing[0]),
        _midnight(missing[-1] + timedelta(days=1)),
        lambda name: TruncDate(name, tzinfo=tz),
    )
    now = timezone.now()
    rows = [DashboardDay(day=d, counted_at=now, **counted["site"].get(d, _zero())) for d in missing]
    rows += [
        DashboardDay(day=d, plan_id=plan_id, counted_at=now, **figures)
        for (d, plan_id), figures in counted["plans"].items()
        if d in missing
    ]
    DashboardDay.objects.bulk_create(rows, ignore_conflicts=True)
    return len(missing)


def dashboard_days_refresh(*, now: datetime | None = None) -> int:
    """The periodic job's part (automation.cockpit.jobs): every settled day the longest
    period and the one before it show, counted ahead of the first request that needs it
    (on 10,000,000 interactions a request that counted 59 days took 2-11 s:
    bench/README.md). The number of days stored."""
    today = timezone.localtime(now or timezone.now()).date()
    longest = max(PERIODS.values())
    return dashboard_days_count(first=today - timedelta(days=2 * longest), last=today - timedelta(days=2))


def dashboard_figures(*, period: str, now: datetime | None = None) -> DashboardFigures:
    """The figures of `period` ("today", "7d", "30d") and of the period before it."""
    now = now or timezone.now()
    n = PERIODS[period]
    today = timezone.localtime(now).date()
    yesterday = today - timedelta(days=1)
    settled = today - timedelta(days=2)  # the last day stored
    chart_first = today - timedelta(days=TODAY_CHART_DAYS - 1) if n == 1 else today - timedelta(days=n)
    first = min(chart_first, today - timedelta(days=2 * n))
    stored = DashboardDay.objects.filter(day__gte=first, day__lte=settled)
    rows = list(stored.values())
    if len({r["day"] for r in rows if r["plan_id"] is None}) <= (settled - first).days:
        dashboard_days_count(first=first, last=settled)  # days not counted yet: once
        rows = list(stored.values())
    plans = list(Plan.objects.filter(status=Plan.Status.ACTIVE).order_by("name"))
    by_day: dict = defaultdict(_zero)
    by_plan_day: dict = defaultdict(_zero)
    for row in rows:
        if row["plan_id"] is None:
            by_day[row["day"]] = {k: row[k] for k in SITE}
        else:
            by_plan_day[row["day"], row["plan_id"]] = {k: row[k] for k in PLAN}
    # Live: yesterday until this time of day (0), the rest of yesterday (1), today (2).
    cut, midnight = now - timedelta(days=1), _midnight(today)
    live = _counted(
        _midnight(yesterday),
        now,
        {
            0: lambda name: Q(**{f"{name}__lt": cut}),
            1: lambda name: Q(**{f"{name}__gte": cut, f"{name}__lt": midnight}),
            2: lambda name: Q(**{f"{name}__gte": midnight}),
        },
        plan_ids=[p.pk for p in plans],
    )

    def live_sum(table: dict, buckets, plan_id=None) -> dict:
        out = _zero()
        for b in buckets:
            figures = table.get(b if plan_id is None else (b, plan_id))
            for k in out:
                out[k] += figures[k] if figures else 0
        return out

    by_day[yesterday] = live_sum(live["site"], (0, 1))
    by_day[today] = live_sum(live["site"], (2,))
    for p in plans:
        by_plan_day[yesterday, p.pk] = live_sum(live["plans"], (0, 1), p.pk)
        by_plan_day[today, p.pk] = live_sum(live["plans"], (2,), p.pk)

    def days_sum(table: dict, days, keys, plan_id=None) -> dict:
        out = dict.fromkeys(keys, 0)
        for d in days:
            figures = table.get(d if plan_id is None else (d, plan_id))
            for k in keys:
                out[k] += figures[k] if figures else 0
        return out

    if n == 1:
        current = by_day[today]
        previous = live_sum(live["site"], (0,))
        current_days, start, end = [today], midnight, now
    else:
        current_days = [today - timedelta(days=i) for i in range(n, 0, -1)]
        previous_days = [d - timedelta(days=n) for d in current_days]
        current = days_sum(by_day, current_days, SITE)
        previous = days_sum(by_day, previous_days, SITE)
        start, end = _midnight(current_days[0]), midnight
    chart = [chart_first + timedelta(days=i) for i in range((today - chart_first).days + (n == 1))]
    return DashboardFigures(
        period=period,
        start=start,
        end=end,
        figures=[Figure(key=k, value=current[k], previous=previous[k]) for k in SITE],
        days=[(d, {k: by_day[d][k] if d in by_day else 0 for k in SITE}) for d in chart],
        plans=[PlanFigures(plan=p, **days_sum(by_plan_day, current_days, PLAN, p.pk)) for p in plans],
        counts=current,
    )
