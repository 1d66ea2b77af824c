"""The A/B splits of the plan report: per branch, enrolled, each goal reached (and the
revenue its conversions carried), the share that opened a tracked link, each compared
with the first branch's by a two-proportion z-test."""

import math
from decimal import Decimal

from django.db.models import Count, F, QuerySet, Sum

from automation.cockpit.reports.rows import BranchRow, SplitReport, percent_of
from automation.models import EnrollmentStep


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


OPENED_A_LINK = "Opened a link"


def report_splits(flow, steps: QuerySet, *, clicks: bool = False) -> list[SplitReport]:
    """Queries 8 and 9: enrollments per branch, and per branch and goal (with the revenue
    its conversions carried); with `clicks` (the plan's texts carried tracked links), a
    twelfth: per branch, the enrollments a person opened a link of (a link sent after the
    split: one sent before it says nothing of the branch) — compared like a goal,
    the click-through of each branch."""
    drawn = [(step, step.kind.branches(step.data)) for step in map(flow.steps.get, flow.order)]
    splits = [(step, branches) for step, branches in drawn if branches]
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
            taken.filter(
                enrollment__tracked_links__first_clicked_at__isnull=False,
                enrollment__tracked_links__created_at__gte=F("occurred_at"),  # sent after the split
            )
            .values_list("from_step_id", "value")
            .annotate(n=Count("enrollment_id", distinct=True))
            .order_by()
        ):
            converted[split, branch, OPENED_A_LINK] = n
        goals.append((OPENED_A_LINK, OPENED_A_LINK))
    out = []
    for step, branches in splits:
        rows = []
        first = None
        for branch, weight in branches:
            n = enrolled.get((step.id, branch), 0)
            cells = []
            for index, (name, key) in enumerate(goals):
                x = converted.get((step.id, branch, key), 0)
                p = None
                if first is not None:
                    p = two_proportion_p(x, n, first.goals[index][1], first.enrolled)
                cells.append((name, x, percent_of(x, n), p))
            row = BranchRow(
                name=branch, weight=weight, enrolled=n, goals=cells, revenue=revenue.get((step.id, branch))
            )
            first = first or row
            rows.append(row)
        out.append(
            SplitReport(
                step_id=step.id, name=step.name, branches=rows, goal_names=[name for name, _ in goals]
            )
        )
    return out
