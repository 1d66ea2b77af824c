"""The answers of the plan report: per ask step, numbers and words counted (the most
frequent), emails and phones only counted, and the latest free texts."""

from django.db.models import Case, Count, F, QuerySet, Value, When

from automation.cockpit.reports.rows import LATEST_POOL, LATEST_TEXTS, MAX_COUNTED, AnswerReport
from automation.models import EnrollmentStep


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def report_answers(flow, steps: QuerySet) -> list[AnswerReport]:
    """The last two queries (11 and 12; 10 and 11 without link clicks): how often each
    number or word was answered at each ask step (the most frequent), and the latest free
    texts."""
    asks = [flow.steps[s] for s in flow.order if flow.steps[s].kind.reports_answers]
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
