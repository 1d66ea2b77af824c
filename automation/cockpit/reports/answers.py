"""The answers of the plan report: per ask step, numbers and words counted (the most
frequent), emails and phones only counted, and the latest free texts."""

from automation.cockpit.reports.rows import LATEST_TEXTS, MAX_COUNTED, AnswerReport
from automation.models import EnrollmentStep


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def report_answers(flow, f: dict) -> list[AnswerReport]:
    """How often each number or word was answered at each ask step (the most frequent),
    and the latest free texts (from the figures)."""
    asks = [flow.steps[s] for s in flow.order if flow.steps[s].kind.reports_answers]
    if not asks:
        return []
    kinds = EnrollmentStep.ValueKind
    reports = {step.id: AnswerReport(step_id=step.id, name=step.name) for step in asks}
    for step_id, kind, value, n in sorted(f["answers"], key=lambda row: -row[3]):
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
    # The latest free texts of the plan, newest first, a few per step.
    for step_id, _at, value in f["texts"]:
        if step_id in reports and len(reports[step_id].texts) < LATEST_TEXTS:
            reports[step_id].texts.append(value)
    return [r for r in reports.values() if r.total]
