"""Plans side by side (docs/cockpit.md, "The plans list"): per plan, for the enrollments
begun in a date range, how many enrolled, their goal conversions and the revenue those
brought — the plan report's own figures (``PlanReport.enrolled``, ``.conversions``,
``.revenue``), read as the report reads them (automation.cockpit.reports.days): the kept
days of the range (``ReportDay``), plus what began since they were counted.

Two queries for every plan at once, whatever the enrollments or the plans: the range's
kept days of all the plans (their ``outcomes`` and ``goals`` only), and one aggregate of
the enrollments begun since (for each plan, after its own last count; a plan with no kept
day in the range is counted live over the whole range — no enrollment of the range was
kept then, as every day with enrollments is kept by the job's run). Test contacts are
left out, as everywhere in the reports.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Case, Count, DateTimeField, Q, Sum, Value, When

from automation.cockpit.reports.figures import KEYS, enrolled_window
from automation.cockpit.reports.rows import percent_of
from automation.models import Enrollment, ReportDay
from contacts.models import Contact

CENT = Decimal("0.01")


@dataclass(frozen=True)
class PlanResults:
    """A plan's results for the enrollments begun in a range."""

    enrolled: int = 0
    conversions: int = 0  # goal conversions (an enrollment may reach several goals)
    revenue: Decimal | None = None  # None: no conversion carried a value

    @property
    def conversion_rate(self) -> float | None:
        """Goal conversions over enrolled, in percent to one decimal (None: nobody enrolled)."""
        return percent_of(self.conversions, self.enrolled) if self.enrolled else None

    @property
    def revenue_per_recipient(self) -> Decimal | None:
        """Revenue over enrolled, to the cent (None: nobody enrolled, or no revenue)."""
        if not self.enrolled or self.revenue is None:
            return None
        return (self.revenue / self.enrolled).quantize(CENT)


def _money(a: Decimal | None, b) -> Decimal | None:
    if b is None:
        return a
    return (a or Decimal(0)) + Decimal(b)


def plans_results(
    *, plan_ids: list[int], date_from: date | None = None, date_to: date | None = None
) -> dict[int, PlanResults]:
    """Each plan's results for the enrollments begun from `date_from` to `date_to` (both
    inclusive, in the site's timezone; None: no bound). Plans with nothing have none."""
    enrolled: dict[int, int] = {}
    conversions: dict[int, int] = {}
    revenue: dict[int, Decimal | None] = {}
    since: dict[int, datetime] = {}

    kept = ReportDay.objects.filter(plan_id__in=plan_ids)
    if date_from is not None:
        kept = kept.filter(day__gte=date_from)
    if date_to is not None:
        kept = kept.filter(day__lte=date_to)
    n_at, goal_n, goal_revenue = KEYS["outcomes"], KEYS["goals"], KEYS["goals"] + 2
    rows = kept.values_list("plan_id", "computed_at", "figures__outcomes", "figures__goals")
    for plan_id, counted_at, outcomes, goals in rows:
        since[plan_id] = max(since.get(plan_id, counted_at), counted_at)
        enrolled[plan_id] = enrolled.get(plan_id, 0) + sum(row[n_at] for row in outcomes or [])
        for row in goals or []:
            conversions[plan_id] = conversions.get(plan_id, 0) + row[goal_n]
            revenue[plan_id] = _money(revenue.get(plan_id), row[goal_revenue])

    # What began since each plan's days were counted (all of the range: no day kept) — for
    # a kept plan, after the earliest count of all by the index, then after its own.
    each = Q(plan_id__in=[pk for pk in plan_ids if pk not in since])
    if since:
        its_count = Case(
            *[When(plan_id=pk, then=Value(at)) for pk, at in since.items()], output_field=DateTimeField()
        )
        each |= Q(plan_id__in=list(since), enrolled_at__gt=min(since.values())) & Q(enrolled_at__gt=its_count)
    window = enrolled_window(date_from, date_to)
    live = (
        Enrollment.objects.filter(each, **{f"enrolled_at__{k}": v for k, v in window.items()})
        .exclude(contact_id__in=Contact.objects.filter(is_test=True).values("id"))
        .values("plan_id")
        .annotate(
            n=Count("id", distinct=True),
            conversions=Count("goal_conversions"),
            revenue=Sum("goal_conversions__value"),
        )
        .order_by()
    )
    for row in live:
        plan_id = row["plan_id"]
        enrolled[plan_id] = enrolled.get(plan_id, 0) + row["n"]
        conversions[plan_id] = conversions.get(plan_id, 0) + row["conversions"]
        revenue[plan_id] = _money(revenue.get(plan_id), row["revenue"])
    return {
        plan_id: PlanResults(
            enrolled=enrolled.get(plan_id, 0),
            conversions=conversions.get(plan_id, 0),
            revenue=revenue.get(plan_id),
        )
        for plan_id in set(enrolled) | set(conversions)
    }
