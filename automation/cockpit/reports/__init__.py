"""The plan report, following the flow: outcomes, each step (how many reached it and
where they went from it), each A/B split (per branch: enrolled, each goal reached, the
conversion rate and whether the difference is significant), the answers given at ask
steps (counts of numbers and words, the latest free texts), goals with the revenue they
brought (the value of the events that converted them, docs/reference.md §7) and delivery
(with how the messages went, priced apart: SMS and their segments, MMS, WhatsApp).

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

from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from automation.cockpit.reports.answers import report_answers
from automation.cockpit.reports.messages import completed_ways, opt_outs_by_last_text, report_messages
from automation.cockpit.reports.rows import (
    MAX_LINKS,
    MOVES,
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
from automation.engine.revisions import revision_flow
from automation.models import Enrollment, EnrollmentStatus, EnrollmentStep, Plan
from contacts.models import Contact
from messaging.models import DeliveryStatus, OutboundMessage
from tracking.models import GoalConversion, Interaction, TrackedLink


def _window(date_from: date | None, date_to: date | None) -> dict:
    """The filters on `enrolled_at` for the days `date_from` to `date_to` (inclusive, in the
    site's timezone). A day at the calendar's edge (the date picker offers 0001-01-01 and
    9999-12-31), whose start or end no datetime holds, bounds nothing: every enrollment is
    after the one and before the other."""
    window = {}
    for lookup, day, after in (("gte", date_from, 0), ("lt", date_to, 1)):
        if day is None:
            continue
        try:
            start = datetime.combine(day + timedelta(days=after), time.min)
            window[lookup] = timezone.make_aware(start).astimezone(UTC)
        except OverflowError:
            pass  # the calendar's edge: no bound
    return window


def plan_cohort(*, plan: Plan, date_from: date | None = None, date_to: date | None = None) -> QuerySet:
    """The plan's enrollments enrolled between `date_from` and `date_to` (both inclusive),
    test contacts left out."""
    cohort = Enrollment.objects.filter(plan=plan).exclude(
        contact_id__in=Contact.objects.filter(is_test=True).values("id")
    )
    return cohort.filter(**{f"enrolled_at__{k}": v for k, v in _window(date_from, date_to).items()})


def _test_enrollments(plan: Plan) -> QuerySet:
    return Enrollment.objects.filter(
        plan=plan, contact_id__in=Contact.objects.filter(is_test=True).values("id")
    ).values("id")


def _of_cohort(queryset: QuerySet, *, plan: Plan, date_from, date_to, by_plan: bool = False) -> QuerySet:
    """Rows (steps, outbound messages) of the cohort's enrollments; `by_plan`: the rows
    name their plan (steps), so no join is needed without a date range."""
    queryset = queryset.filter(plan=plan) if by_plan else queryset.filter(enrollment__plan=plan)
    queryset = queryset.exclude(enrollment_id__in=_test_enrollments(plan))
    window = _window(date_from, date_to)
    return queryset.filter(**{f"enrollment__enrolled_at__{k}": v for k, v in window.items()})


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

    # 1. Outcomes, and enrollments per day: one pass, one count per status.
    day = TruncDate("enrolled_at", tzinfo=timezone.get_current_timezone())
    by_day = (
        cohort.annotate(day=day)
        .values("day")
        .annotate(
            enrolled=Count("id"),
            **{status.value: Count("id", filter=Q(status=status.value)) for status in OUTCOMES},
        )
        .order_by()
    )
    report.outcomes = {status.value: 0 for status in OUTCOMES}
    enrolled_by_day = {}
    for row in by_day:
        enrolled_by_day[row.pop("day")] = row["enrolled"]
        report.enrolled += row.pop("enrolled")
        for key, n in row.items():
            report.outcomes[key] += n

    # 2. Reached: how many distinct enrollments ever entered each step.
    reached = dict(steps.values_list("step_id").annotate(n=Count("enrollment_id", distinct=True)).order_by())
    # 3. Moves between steps (and the replies each step took), 4. where enrollments ended
    # (or wait now), 4b. how those that completed came to (a reply, an event, a timer).
    went: dict[str, list[tuple[str, int]]] = {}
    replies: dict[str, int] = {}
    moves = (
        steps.filter(via__in=[*MOVES, EnrollmentStep.Via.COMPLETE])
        .exclude(from_step_id="")
        .values_list("from_step_id", "step_id", "via")
        .annotate(n=Count("id"), told=Count("interaction_id"))
        .order_by()
    )
    completed: dict[str, list[tuple[str, int]]] = {}
    for source, target, via, n, told in moves:
        if via == EnrollmentStep.Via.COMPLETE:
            step = flow.steps.get(source) if flow else None
            ways, answered = completed_ways(step, told=told, timed=n - told)
            completed.setdefault(source, []).extend(ways)
            replies[source] = replies.get(source, 0) + answered
            continue
        if via == EnrollmentStep.Via.REPLY:
            replies[source] = replies.get(source, 0) + n
        went.setdefault(source, []).append((f"→ {names.get(target, target)}", n))
    for step_id, status, n in cohort.values_list("step_id", "status").annotate(n=Count("id")).order_by():
        if status == EnrollmentStatus.COMPLETED and step_id in completed:
            told = 0
            for words, m in completed[step_id]:
                went.setdefault(step_id, []).append((words, m))
                told += m
            if n > told:  # ran out of steps
                went.setdefault(step_id, []).append((_END_WORDS[status], n - told))
            continue
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
                    percent=percent_of(n, report.enrolled),
                    kind=step.kind.description,
                    went=sorted(went.get(step_id, []), key=lambda w: -w[1]),
                )
            )
        # Start first, final steps last; otherwise authoring order.
        report.funnel.sort(key=lambda row: (not row.is_start, row.is_final))

    # 5. Goals reached by the cohort and the engagement value they earned, per day reached.
    goal_rows = (
        GoalConversion.objects.filter(enrollment_id__in=cohort_ids)
        .annotate(day=TruncDate("occurred_at", tzinfo=timezone.get_current_timezone()))
        .values_list("goal_id", "goal__name", "day")
        .annotate(n=Count("id"), points=Sum("points"), revenue=Sum("value"))
        .order_by("goal__name")
    )
    goals: dict[int, GoalRow] = {}
    conversions_by_day, revenue_by_day = {}, {}
    for goal_id, name, day_reached, n, points, revenue in goal_rows:
        goal = goals.setdefault(goal_id, GoalRow(goal_id=goal_id, name=name, conversions=0, points=0))
        goal.conversions += n
        goal.points += points or 0
        conversions_by_day[day_reached] = conversions_by_day.get(day_reached, 0) + n
        if revenue is not None:
            goal.revenue = (goal.revenue or 0) + revenue
            revenue_by_day[day_reached] = revenue_by_day.get(day_reached, 0) + revenue
    report.goals = list(goals.values())
    report.engagement_value = sum(g.points for g in report.goals)

    # 6. Delivery outcomes of the messages sent to the cohort (every message an enrollment
    # causes names it).
    # In the same pass, how they went (priced apart): WhatsApp, MMS (with media), else SMS
    # and its segments.
    outbound = _of_cohort(OutboundMessage.objects.all(), **window)
    whatsapp = Q(interaction__channel=Interaction.Channel.WHATSAPP)
    mms = ~whatsapp & ~Q(media_urls=[])
    sms = ~whatsapp & Q(media_urls=[])
    rows = (
        outbound.values_list("step_id", "status")
        .annotate(
            n=Count("id"),
            mms=Count("id", filter=mms),
            whatsapp=Count("id", filter=whatsapp),
            segments=Sum("segments", filter=sms),
        )
        .order_by()
    )
    by_status, by_step_status = {}, {}
    for step_id, status, n, n_mms, n_whatsapp, segments in rows:
        by_status[status] = by_status.get(status, 0) + n
        by_step_status[step_id, status] = n
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

    # 8. Per text sent and per day: the links a person opened (their first click).
    clicked_by_step, clicked_by_day = {}, {}
    if report.links:
        opened = (
            TrackedLink.objects.filter(enrollment_id__in=cohort_ids, first_clicked_at__isnull=False)
            .annotate(day=TruncDate("first_clicked_at", tzinfo=timezone.get_current_timezone()))
            .values_list("interaction__outbound__step_id", "day")
            .annotate(links=Count("id"), texts=Count("interaction_id", distinct=True))
            .order_by()
        )
        for step_id, day_clicked, n_links, n_texts in opened:
            clicked_by_step[step_id] = clicked_by_step.get(step_id, 0) + n_texts
            clicked_by_day[day_clicked] = clicked_by_day.get(day_clicked, 0) + n_links
    report.trend = trend_make(
        enrolled=enrolled_by_day,
        conversions=conversions_by_day,
        revenue=revenue_by_day,
        clicked=clicked_by_day,
        date_from=date_from,
        date_to=date_to,
    )

    if flow is not None:
        # 9. Opt-outs, each at the text its contact got last; then the figures per text.
        opted_out = opt_outs_by_last_text(cohort) if report.outcomes[EnrollmentStatus.OPTED_OUT] else {}
        report.messages_by_step = report_messages(
            flow, statuses=by_step_status, clicked=clicked_by_step, replies=replies, opted_out=opted_out
        )
        report.splits = report_splits(flow, steps, clicks=bool(report.links))
        report.answers = report_answers(flow, steps)
    return report


__all__ = ["PlanReport", "plan_cohort", "plan_report", "two_proportion_p"]
