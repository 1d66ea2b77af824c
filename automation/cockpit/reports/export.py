"""The plan report as CSV: its tables in one file, and the enrollments with their outcome
row by row (streamed: a million rows are never held in memory).

Column names are a marketer's. A text cell that a spreadsheet would run as a formula (it
starts with = + - @, a tab or a carriage return) is written with a leading apostrophe
(OWASP's "CSV injection"); phone numbers in E.164 (+ and digits) are left as they are.
"""

import csv
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone

from automation.cockpit.reports import PlanReport, plan_cohort
from automation.engine.revisions import revision_flow
from automation.models import Plan
from tracking.models import GoalConversion

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
E164 = re.compile(r"\+[1-9]\d{5,14}")
CHUNK = 2000  # enrollments read (and their goals looked up) at a time


def csv_cell(value) -> object:
    """`value` as a safe CSV cell: numbers as they are, dates in ISO form, text that a
    spreadsheet would run as a formula behind an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return f"{value:.2f}"  # money
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_START) and not E164.fullmatch(text):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose `write` hands the line back (for a streaming response)."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable]) -> Iterator[str]:
    """Each row of `rows` as one CSV line (cells made safe)."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([csv_cell(cell) for cell in row])


def report_table_rows(report: PlanReport) -> Iterator[list]:
    """The report's tables, one after the other, each under its title and headers."""
    trend = report.trend
    if trend is not None:
        yield [f"Results by {trend.by}"]
        yield [
            "Week of" if trend.by == "week" else "Day",
            "Enrolled",
            "Conversions",
            "Revenue",
            "Links clicked",
        ]
        for row in trend.rows:
            yield [row.day, row.enrolled, row.conversions, row.revenue, row.clicked]
        yield []
    yield ["Outcomes"]
    yield ["Outcome", "Enrollments"]
    yield ["Enrolled", report.enrolled]
    for _key, label, n in report.outcome_rows:
        yield [label, n]
    yield []
    yield ["Steps"]
    yield ["Step", "Reached", "% of enrolled", "Then"]
    for row in report.funnel:
        yield [row.name, row.reached, row.percent, "; ".join(f"{where}: {n}" for where, n in row.went)]
    yield []
    yield ["Texts"]
    yield ["Step", "Sent", "Delivered", "Failed", "Clicked", "% clicked of delivered", "Replies", "Opt-outs"]
    for m in report.messages_by_step:
        yield [m.name, m.sent, m.delivered, m.failed, m.clicked, m.clicked_rate, m.replies, m.opted_out]
    yield []
    for split in report.splits:
        yield [f"A/B split: {split.name}"]
        yield ["Branch", "Weight", "Enrolled", *split.goal_names, "Revenue"]
        for branch in split.branches:
            yield [branch.name, branch.weight, branch.enrolled, *(g[1] for g in branch.goals), branch.revenue]
        yield []
    yield ["Goals"]
    yield ["Goal", "Conversions", "Engagement value", "Revenue"]
    for goal in report.goals:
        yield [goal.name, goal.conversions, goal.points, goal.revenue]
    yield []
    yield ["Delivery"]
    yield ["Status", "Messages", "%"]
    for row in report.delivery:
        yield [row.label, row.count, row.percent]
    if report.links:
        yield []
        yield ["Links"]
        yield ["Link", "Sent in", "Clicked", "% clicked", "Clicks"]
        for link in report.links:
            yield [link.url, link.sent, link.clicked, link.rate, link.clicks]


ENROLLMENT_HEADERS = [
    "Enrolled at",
    "Phone",
    "First name",
    "Last name",
    "Outcome",
    "Step now (or where it ended)",
    "Ended at",
    "Why it ended",
    "A/B branches",
    "Goals reached",
    "Revenue",
]


def enrollment_rows(*, plan: Plan, date_from: date | None, date_to: date | None) -> Iterator[list]:
    """The report's enrollments (the same cohort), oldest first, each with its outcome and
    the goals it reached: read `CHUNK` at a time (two queries per chunk), never all at once."""
    revision_id = plan.published_id or plan.revisions.order_by("-number").values_list("pk", flat=True).first()
    flow = revision_flow(revision_id) if revision_id else None
    names = {step_id: step.name for step_id, step in flow.steps.items()} if flow else {}
    labels = dict(plan.enrollments.model.Status.choices)
    cohort = plan_cohort(plan=plan, date_from=date_from, date_to=date_to).order_by("id")
    fields = (
        "id", "enrolled_at", "contact__phone", "contact__first_name", "contact__last_name",
        "status", "step_id", "ended_at", "end_reason", "branches",
    )  # fmt: skip
    yield ENROLLMENT_HEADERS
    last_id = 0
    while True:
        chunk = list(cohort.filter(id__gt=last_id).values_list(*fields)[:CHUNK])
        if not chunk:
            return
        last_id = chunk[-1][0]
        goals: dict[int, tuple[list[str], Decimal | None]] = {}
        for enrollment_id, name, value in (
            GoalConversion.objects.filter(enrollment_id__in=[row[0] for row in chunk])
            .order_by("occurred_at", "id")
            .values_list("enrollment_id", "goal__name", "value")
        ):
            reached, revenue = goals.setdefault(enrollment_id, ([], None))
            reached.append(name)
            if value is not None:
                goals[enrollment_id] = (reached, (revenue or 0) + value)
        for pk, at, phone, first, last, status, step_id, ended, reason, branches in chunk:
            reached, revenue = goals.get(pk, ([], None))
            yield [
                at, phone, first, last, labels.get(status, status), names.get(step_id, step_id),
                ended, reason, ", ".join(f"{k}: {v}" for k, v in sorted((branches or {}).items())),
                ", ".join(reached), revenue,
            ]  # fmt: skip
