"""The plan report, following the flow: outcomes, each step (how many reached it and
where they went from it), each A/B split (per branch: enrolled, each goal reached, the
conversion rate and whether the difference is significant), the answers given at ask
steps (counts of numbers and words, the latest free texts), goals with the revenue they
brought (the value of the events that converted them, docs/reference.md §7) and delivery
(with how the messages went, priced apart: SMS and their segments, MMS, WhatsApp).

The figures come from `automation.cockpit.reports.figures` (one aggregate query each,
whatever the plan's size; bench/report.py), through the daily roll-up
(`automation.cockpit.reports.days`: the kept days of the range, plus what began since
they were counted); this module turns them into the report's rows. The cohort is the plan's enrollments
enrolled in the date range (inclusive, in the site's timezone); test contacts (the
simulator's) are left out everywhere. Step rows carry their plan, so they are read
without joining the enrollments unless a date range asks for it.

Significance: a two-proportion z-test (two-sided) of each branch's conversion rate
against the first branch's, per goal; "significant" when p < 0.05 with at least 30
enrollments in each branch.
"""

from datetime import date
from decimal import Decimal

from automation.cockpit.reports.answers import report_answers
from automation.cockpit.reports.days import plan_flow, report_figures
from automation.cockpit.reports.figures import plan_cohort
from automation.cockpit.reports.messages import completed_ways, report_messages
from automation.cockpit.reports.rows import (
    MAX_LINKS,
    OUTCOMES,
    DeliveryRow,
    FunnelRow,
    GoalRow,
    LinkRow,
    PlanReport,
    percent_of,
)
from automation.cockpit.reports.splits import report_splits, two_proportion_p
from automation.cockpit.reports.trends import trend_make
from automation.models import EnrollmentStatus, EnrollmentStep, Plan
from messaging.models import DeliveryStatus

_END_WORDS = {
    EnrollmentStatus.ACTIVE: "waiting here now",
    EnrollmentStatus.COMPLETED: "completed here",
    EnrollmentStatus.EXPIRED: "expired here",
    EnrollmentStatus.OPTED_OUT: "opted out here",
    EnrollmentStatus.EXITED: "left for another plan here",
    EnrollmentStatus.FAILED: "failed here",
}


def _money(value) -> Decimal | None:
    return None if value is None else Decimal(value)


def plan_report(*, plan: Plan, date_from: date | None = None, date_to: date | None = None) -> PlanReport:
    report = PlanReport(plan=plan, date_from=date_from, date_to=date_to)
    flow = plan_flow(plan)
    names = {step_id: step.name for step_id, step in flow.steps.items()} if flow else {}
    f, report.counted_at = report_figures(plan=plan, flow=flow, date_from=date_from, date_to=date_to)

    # Outcomes, and enrollments per day.
    report.outcomes = {status.value: 0 for status in OUTCOMES}
    enrolled_by_day: dict[date, int] = {}
    for day, status, n in f["outcomes"]:
        enrolled_by_day[date.fromisoformat(day)] = enrolled_by_day.get(date.fromisoformat(day), 0) + n
        report.enrolled += n
        report.outcomes[status] = report.outcomes.get(status, 0) + n

    # Each step: how many reached it, where they went from it (and the replies it took),
    # where enrollments ended or wait, and how those that completed came to.
    reached = dict(f["reached"])
    went: dict[str, list[tuple[str, int]]] = {}
    replies: dict[str, int] = {}
    completed: dict[str, list[tuple[str, int]]] = {}
    for source, target, via, n, told in f["moves"]:
        if via == EnrollmentStep.Via.COMPLETE:
            ways, answered = completed_ways(
                flow.steps.get(source) if flow else None, told=told, timed=n - told
            )
            completed.setdefault(source, []).extend(ways)
            replies[source] = replies.get(source, 0) + answered
            continue
        if via == EnrollmentStep.Via.REPLY:
            replies[source] = replies.get(source, 0) + n
        went.setdefault(source, []).append((f"→ {names.get(target, target)}", n))
    for step_id, status, n in f["ends"]:
        told = 0
        if status == EnrollmentStatus.COMPLETED:
            for words, m in completed.get(step_id, []):
                went.setdefault(step_id, []).append((words, m))
                told += m
        if n > told:  # (a journey that ran out of steps completes without a word)
            went.setdefault(step_id, []).append((_END_WORDS.get(status, status), n - told))
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
                    percent=percent_of(n, report.enrolled),
                    kind=step.kind.description,
                    went=sorted(went.get(step_id, []), key=lambda w: -w[1]),
                )
            )
        # Start first, final steps last; otherwise authoring order.
        report.funnel.sort(key=lambda row: (not row.is_start, row.is_final))

    # Goals reached by the cohort and the engagement value they earned, per day reached.
    goals: dict[int, GoalRow] = {}
    conversions_by_day: dict[date, int] = {}
    revenue_by_day: dict[date, Decimal] = {}
    for goal_id, name, day, n, points, revenue in sorted(f["goals"], key=lambda row: row[1]):
        goal = goals.setdefault(goal_id, GoalRow(goal_id=goal_id, name=name, conversions=0, points=0))
        goal.conversions += n
        goal.points += points or 0
        day = date.fromisoformat(day)
        conversions_by_day[day] = conversions_by_day.get(day, 0) + n
        if revenue is not None:
            goal.revenue = (goal.revenue or 0) + _money(revenue)
            revenue_by_day[day] = revenue_by_day.get(day, 0) + _money(revenue)
    report.goals = list(goals.values())
    report.engagement_value = sum(g.points for g in report.goals)

    # Delivery of the messages sent to the cohort, and how they went (priced apart).
    by_status: dict[str, int] = {}
    by_step_status: dict[tuple[str, str], int] = {}
    for step_id, status, n, n_mms, n_whatsapp, segments in f["delivery"]:
        by_status[status] = by_status.get(status, 0) + n
        by_step_status[step_id, status] = by_step_status.get((step_id, status), 0) + n
        report.mms += n_mms
        report.whatsapp += n_whatsapp
        report.sms += n - n_mms - n_whatsapp
        report.sms_segments += segments or 0
    report.messages = sum(by_status.values())
    report.delivery = [
        DeliveryRow(
            status=choice.value,
            label=choice.label,
            count=by_status.get(choice.value, 0),
            percent=percent_of(by_status.get(choice.value, 0), report.messages),
        )
        for choice in DeliveryStatus
        if by_status.get(choice.value, 0)
    ]

    # Tracked links: per URL (the most clicked), per text and per day first clicked.
    links = sorted(f["links"], key=lambda row: (-row[2], row[0]))[:MAX_LINKS]
    report.links = [LinkRow(url, sent, clicked, clicks or 0) for url, sent, clicked, clicks in links]
    clicked_by_step: dict[str, int] = {}
    clicked_by_day: dict[date, int] = {}
    for step_id, day, n_links, n_texts in f["clicks"]:
        clicked_by_step[step_id] = clicked_by_step.get(step_id, 0) + n_texts
        clicked_by_day[date.fromisoformat(day)] = clicked_by_day.get(date.fromisoformat(day), 0) + n_links
    report.trend = trend_make(
        enrolled=enrolled_by_day,
        conversions=conversions_by_day,
        revenue=revenue_by_day,
        clicked=clicked_by_day,
        date_from=date_from,
        date_to=date_to,
    )

    if flow is not None:
        report.messages_by_step = report_messages(
            flow,
            statuses=by_step_status,
            clicked=clicked_by_step,
            replies=replies,
            opted_out={step_id: n for step_id, n in f["opt_outs"] if step_id},
        )
        report.splits = report_splits(flow, f, clicks=bool(report.links))
        report.answers = report_answers(flow, f)
    return report


__all__ = ["PlanReport", "plan_cohort", "plan_report", "two_proportion_p"]
