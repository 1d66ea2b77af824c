"""The A/B splits of the plan report: per branch, enrolled, each goal reached (and the
revenue its conversions carried), the share that opened a tracked link, each compared
with the first branch's by a two-proportion z-test."""

import math
from decimal import Decimal

from automation.cockpit.reports.rows import BranchRow, SplitReport, percent_of


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


def report_splits(flow, f: dict, *, clicks: bool = False) -> list[SplitReport]:
    """Per split and branch: enrollments, each goal reached (and the revenue its conversions
    carried), and with `clicks` (the plan's texts carried tracked links) the enrollments a
    person opened a link of — a link sent after the split: one sent before it says nothing
    of the branch — compared like a goal, the click-through of each branch."""
    drawn = [(step, step.kind.branches(step.data)) for step in map(flow.steps.get, flow.order)]
    splits = [(step, branches) for step, branches in drawn if branches]
    if not splits:
        return []
    enrolled = {(split, branch): n for split, branch, n in f["branches"]}
    converted, revenue = {}, {}
    for split, branch, goal, n, value in f["branch_goals"]:
        converted[split, branch, goal] = converted.get((split, branch, goal), 0) + n
        if value is not None:
            revenue[split, branch] = revenue.get((split, branch), Decimal(0)) + Decimal(value)
    goals = [(goal.name, flow.goal_ids.get(goal.slug)) for goal in flow.goals.values()]
    if clicks:
        for split, branch, n in f["branch_clicks"]:
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
