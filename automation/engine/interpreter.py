"""The interpreter (docs/architecture.md §3): one way an enrollment moves.

``enrollment_start`` enters a plan's start step; ``enrollment_advance`` hands an event
(a reply, an unmatched reply, a timer, an external event, a web service's answer) to the
step the enrollment is at. Either runs steps until one waits (an ask, wait_event, delay
or http in flight) or the enrollment ends, at most MAX_STEPS_PER_EVENT steps: a runaway
(plans entering each other) fails the enrollment with a logged error.

Everything runs in the caller's transaction with the contact row locked first (the lock
order: ``automation.locks``). No network I/O: texts are
queued and sent on commit; an http step's call is handed over on commit and its answer
comes back as an event (``automation.engine.http_steps``). The engine knows no step
kind by name: each kind (``automation.flow.kinds``) acts through a ``Run``
(``automation.engine.runtime``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db.models import Case, Value, When
from django.db.models.functions import Concat, Left
from django.utils import timezone

from automation.engine.enrollments import enrollment_end
from automation.engine.revisions import revision_flow
from automation.engine.runtime import Run
from automation.flow import Event, Flow, Go, Reply, Step
from automation.models import Enrollment, EnrollmentStep, Plan
from contacts.models import Contact
from infra.logs import log_context, log_context_add
from messaging.senders import sender_of_address
from tracking.models import Interaction

logger = logging.getLogger(__name__)

Status = Enrollment.Status
Via = EnrollmentStep.Via
MAX_STEPS_PER_EVENT = 100
MAX_PLAN_CHAIN = 10
_EVENT_VIA = {
    "reply": Via.REPLY,
    "unmatched": Via.REPLY,
    "timer": Via.TIMEOUT,
    "event": Via.EVENT,
    "http_answer": Via.HTTP,
}


# --- starting and moving ----------------------------------------------------------------------


def enrollment_may_enter(*, contact: Contact, plan_id: int, flow: Flow) -> bool:
    """The plan's re-entry policy (the caller has checked there is no active enrollment)."""
    if flow.reentry == "never":
        return not Enrollment.objects.filter(contact=contact, plan_id=plan_id).exists()
    return True


def contacts_may_enter(*, contact_ids: list[int], plan_id: int, flow: Flow) -> set[int]:
    """``enrollment_may_enter`` for many contacts in one query: those that may."""
    if flow.reentry == "never":
        ever = Enrollment.objects.filter(contact_id__in=contact_ids, plan_id=plan_id)
        return set(contact_ids) - set(ever.values_list("contact_id", flat=True))
    return set(contact_ids)


def enrollment_start(
    *,
    contact: Contact,
    plan_id: int,
    revision_id: int,
    interaction: Interaction | None = None,
    now: datetime | None = None,
    depth: int = 0,
    branches: dict[str, str] | None = None,
    sender_id: int | None = None,
) -> Enrollment:
    """Enroll `contact` in the plan at revision `revision_id`'s start step and run on until
    a step waits. `branches` (split step id → branch) are taken as already drawn (the
    simulator's choice). Its texts go from the sender the contact wrote to when
    `interaction` is their message, else from `sender_id` (the sender of the journey that
    entered this plan), else from the plan's entry sender or the default (docs/reference.md
    §8). Raises ValueError when the contact is opted out."""
    if contact.opted_out:
        raise ValueError(f"{contact} has opted out and cannot be enrolled.")
    flow = revision_flow(revision_id)
    now = now or (interaction.created_at if interaction is not None else timezone.now())
    enrollment = Enrollment(
        contact=contact,
        plan_id=plan_id,
        revision_id=revision_id,
        step_id=flow.start,
        enrolled_at=now,
        step_entered_at=now,
        expires_at=now + flow.lifetime,
        branches=dict(branches or {}),
        sender_id=sender_id,
    )
    written = _written_to(interaction)
    if written is not None:
        enrollment.sender = written
    run = Run(
        enrollment=enrollment,
        flow=flow,
        contact=contact,
        now=now,
        interaction=interaction,
        depth=depth,
        answers_contact=_answers(interaction),
    )
    with log_context(contact_id=contact.pk):  # and the enrollment's id, once it has one (_enter)
        _go(run, Go(flow.start), via=Via.ENROLL)
    return enrollment


def enrollment_advance(
    *,
    enrollment: Enrollment,
    contact: Contact,
    event: str,
    now: datetime,
    reply: Reply | None = None,
    external: Event | None = None,
    interaction: Interaction | None = None,
    unsaved: Iterable[str] = (),
) -> bool:
    """Hand `event` to the step `enrollment` is at: ``reply`` (a rule may take it),
    ``unmatched`` (no step and no plan took it), ``timer``, ``event`` (`external`) or
    ``http_answer`` (`external`). True when the step took it (and the enrollment moved
    on or answered): the fields it changed are saved, with the caller's `unsaved` ones, in
    one UPDATE. Nothing is saved otherwise."""
    flow = revision_flow(enrollment.revision_id)
    step = flow.steps.get(enrollment.step_id)
    if step is None or enrollment.status != Status.ACTIVE:
        return False
    run = Run(
        enrollment=enrollment,
        flow=flow,
        contact=contact,
        now=now,
        reply=reply,
        event=external,
        interaction=interaction,
        answers_contact=_answers(interaction),
        enrollment_changed=set(unsaved),
    )
    handler = {
        "reply": step.kind.on_reply,
        "unmatched": step.kind.on_unmatched,
        "timer": step.kind.on_timer,
        "event": step.kind.on_event,
        "http_answer": step.kind.on_http_answer,
    }[event]
    # The journey goes on from the sender the contact wrote to (docs/reference.md §8), its
    # answer to this message included — if the step takes the message.
    before, written = enrollment.sender_id, _written_to(interaction)
    if written is not None and written.pk != before:
        enrollment.sender = written
        run.enrollment_changed.add("sender")
    with log_context(contact_id=contact.pk, enrollment_id=enrollment.pk):  # its log lines name them
        outcome = handler(step, run)
        if outcome is None:
            enrollment.sender_id = before
            return False
        _go(run, outcome, via=_EVENT_VIA[event])
    return True


def _answers(interaction: Interaction | None) -> bool:
    """Texts sent now answer the contact's own message (never held, never capped); an event
    (docs/reference.md §7) is not the contact writing to us: what it sends is a marketing text."""
    return (
        interaction is not None
        and interaction.direction == Interaction.Direction.INBOUND
        and interaction.channel != Interaction.Channel.API
    )


def _written_to(interaction: Interaction | None):
    """The sender the contact's own message was sent to (its ``To``); None for anything else
    (a timer, an event, an address that is no sender)."""
    if not _answers(interaction):
        return None
    return sender_of_address(interaction.to_address)


def _go(run: Run, outcome, *, via: str) -> None:
    """Follow `outcome` from step to step until one waits or the enrollment ends. What a
    step notes goes on its own history row: a row is written once its step has run."""
    enrollment, taken = run.enrollment, 0
    first_interaction = run.interaction
    _notes_keep(run)
    while isinstance(outcome, Go) and enrollment.status == Status.ACTIVE:
        if outcome.next is None:
            _complete(run, via=via, interaction=first_interaction)
            break
        taken += 1
        if taken > MAX_STEPS_PER_EVENT:
            logger.error(
                "plan %s: enrollment %s ran %d steps on one event; stopped as failed",
                run.flow.slug, enrollment.pk, MAX_STEPS_PER_EVENT,
            )  # fmt: skip
            _save(run)
            enrollment_end(enrollment=enrollment, status=Status.FAILED, reason="Too many steps on one event")
            return
        step = run.flow.steps[outcome.next]
        row = _enter(run, step, via=via, interaction=first_interaction)
        outcome = step.kind.enter(step, run)
        row.detail, run.detail = run.detail[:200], ""
        row.save(force_insert=True)
        via, first_interaction = Via.STEP, None
    _save(run)
    if run.pending_plan:
        _plan_enter(run)


def _enter(run: Run, step: Step, *, via: str, interaction: Interaction | None) -> EnrollmentStep:
    """Move the enrollment to `step`; its history row, to be saved once the step has run."""
    enrollment, now = run.enrollment, run.now
    from_step = enrollment.step_id if via != Via.ENROLL else ""
    run.enrollment_set(
        step_id=step.id,
        step_entered_at=now,
        visit=enrollment.visit + 1,
        other_count=0,
        prompt_sent_at=None,
        timeout_at=None,
    )
    if run.answers_contact:
        run.enrollment_set(last_inbound_at=now)
    if enrollment.pk is None:
        enrollment.save(force_insert=True)
        run.enrollment_changed.clear()
        log_context_add(enrollment_id=enrollment.pk)
    row = _history(run, step_id=step.id, from_step=from_step, via=via, interaction=interaction)
    if step.goal:
        run.goal_convert(step.goal)
    return row


def _complete(run: Run, *, via: str, interaction: Interaction | None) -> None:
    """The enrollment completes at the step it is at; the row says what ended it there (the
    answer to a last question counts in the report like any other)."""
    enrollment = run.enrollment
    step = run.flow.steps.get(enrollment.step_id)
    enrollment.complete()
    run.enrollment_changed.add("status")
    run.enrollment_set(
        ended_at=run.now,
        end_reason=f"Reached {step.name if step else enrollment.step_id}"[:200],
        timeout_at=None,
    )
    if via == Via.STEP and not run.value[1]:
        return  # a journey that simply ran out of steps: its enrollment says it all
    at = enrollment.step_id
    _history(run, step_id=at, from_step=at, via=Via.COMPLETE, interaction=interaction).save(force_insert=True)


def _history(
    run: Run, *, step_id: str, from_step: str, via: str, interaction: Interaction | None
) -> EnrollmentStep:
    """A step-history row (what the report and the timeline read), not saved yet, with the
    answer or branch that moved the enrollment (noted by the step it came from)."""
    (value_kind, value), run.value = run.value, ("", "")
    return EnrollmentStep(
        enrollment=run.enrollment,
        plan_id=run.enrollment.plan_id,
        step_id=step_id,
        from_step_id=from_step,
        via=via,
        interaction=interaction,
        occurred_at=run.now,
        value=value,
        value_kind=value_kind,
    )


def _notes_keep(run: Run) -> None:
    """What the step the enrollment is at noted on an event (the value a reply saved, a web
    service's answer) goes on that step's row, written when the enrollment entered it."""
    if not run.detail:
        return
    note, run.detail = run.detail, ""
    enrollment = run.enrollment
    added = Case(When(detail="", then=Value(note)), default=Concat("detail", Value(f"; {note}")))
    EnrollmentStep.objects.filter(
        enrollment=enrollment, step_id=enrollment.step_id, occurred_at=enrollment.step_entered_at
    ).update(detail=Left(added, 200))


def _save(run: Run) -> None:
    """Save what the run changed: the enrollment's fields, the contact's (one UPDATE each)."""
    if run.enrollment_changed:
        run.enrollment.save(update_fields=sorted(run.enrollment_changed))
        run.enrollment_changed.clear()
    if run.contact_changed:
        run.contact.save(update_fields=[*sorted(run.contact_changed), "updated_at"])
        run.contact_changed.clear()


def _plan_enter(run: Run) -> None:
    """An enter_plan step: the contact enters that plan's start (its re-entry policy and
    status apply; a plan the contact is active in already is not entered twice)."""
    slug, run.pending_plan = run.pending_plan, None
    if run.depth >= MAX_PLAN_CHAIN:
        logger.error("plan %s: enter_plan %s stopped after %d plans in a row", run.flow.slug, slug, run.depth)
        return
    plan = Plan.objects.filter(slug=slug, status=Plan.Status.ACTIVE, published__isnull=False).first()
    if plan is None:
        logger.warning("plan %s: enter_plan %s: no such active plan", run.flow.slug, slug)
        return
    if Enrollment.objects.filter(contact=run.contact, plan=plan, status=Status.ACTIVE).exists():
        return
    if not enrollment_may_enter(contact=run.contact, plan_id=plan.pk, flow=revision_flow(plan.published_id)):
        return
    enrollment_start(
        contact=run.contact,
        plan_id=plan.pk,
        revision_id=plan.published_id,
        interaction=run.interaction if run.answers_contact else None,
        now=run.now,
        depth=run.depth + 1,
        sender_id=run.enrollment.sender_id,
    )


__all__ = [
    "MAX_STEPS_PER_EVENT",
    "contacts_may_enter",
    "enrollment_advance",
    "enrollment_may_enter",
    "enrollment_start",
]
