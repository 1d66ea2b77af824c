"""The journey engine. Owner: engine (issue 3).

All functions run inside the caller's transaction with the contact row already locked
(lock order everywhere: contact, then enrollment). No network I/O: messages are queued
with messaging.services.outbound_queue, which sends on commit.

Routing of one reply (DESIGN §3; compliance keywords were handled by the caller):
1. a transition out of the current state of one of the contact's active enrollments
   (the enrollment whose state was entered last is asked first; priority order);
2. else another active plan's entry keyword: enroll, ending the current enrollments as
   ``exited`` unless that plan says it does not interrupt;
3. else, when the contact has no active enrollment at all, a catch-all plan (entry
   trigger "any message") it may (re-)enter: enroll in the oldest such plan;
4. else the current state's fallback text, at most once per state entered.
"""

import logging
import re
from datetime import datetime

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from automation.matching import keyword_normalize, transition_matches
from automation.models import Enrollment, EnrollmentStep, Plan, PlanState, Transition
from contacts.models import Contact
from tracking.models import Interaction

logger = logging.getLogger(__name__)

Status = Enrollment.Status
Via = EnrollmentStep.Via

_END_METHODS = {
    Status.COMPLETED: "complete",
    Status.EXPIRED: "expire",
    Status.OPTED_OUT: "opt_out",
    Status.EXITED: "exit",
    Status.FAILED: "fail",
}
_END_VIA = {
    Status.EXPIRED: Via.EXPIRY,
    Status.OPTED_OUT: Via.OPT_OUT,
    Status.EXITED: Via.EXIT,
    Status.FAILED: Via.FAIL,
}
_KEYWORD_SPLIT = re.compile(r"[,;\s]+")


def plan_entry_keywords(plan: Plan) -> set[str]:
    """A plan's entry keywords in the normalised form replies are compared with."""
    return {k for k in (keyword_normalize(w) for w in _KEYWORD_SPLIT.split(plan.entry_keywords or "")) if k}


def enrollment_route(
    *, contact: Contact, interaction: Interaction, normalized: str, new_contact: bool = False
) -> None:
    """Route one inbound (non-compliance) reply: a transition of an active enrollment,
    else another plan's entry keyword, else a catch-all entry, else the state's fallback.

    `new_contact`: the contact was created by this very message (it has no enrollments,
    which saves two queries)."""
    now = interaction.created_at
    enrollments = [] if new_contact else _active_enrollments_locked(contact=contact)
    for enrollment in enrollments:
        _reply_touch(enrollment=enrollment, now=now)

    handled = _route_transition(enrollments=enrollments, interaction=interaction, normalized=normalized)
    if handled is None:
        handled = _route_entry(
            contact=contact,
            interaction=interaction,
            normalized=normalized,
            enrollments=enrollments,
            new_contact=new_contact,
        )
    if handled is None and enrollments:
        handled = _route_fallback(enrollment=enrollments[0], interaction=interaction)
    # Every active enrollment heard from the contact (timeouts measure silence).
    for enrollment in enrollments:
        if enrollment is not handled and enrollment.status == Status.ACTIVE:
            enrollment.save(update_fields=["last_inbound_at", "timeout_at"])


def _active_enrollments_locked(*, contact: Contact) -> list[Enrollment]:
    """The contact's active enrollments, locked, the one whose state was entered last first."""
    enrollments = list(
        Enrollment.objects.filter(contact=contact, status=Status.ACTIVE)
        .select_related("plan", "current_state")
        .select_for_update(of=("self",))
        .order_by("-state_entered_at", "-id")
    )
    for enrollment in enrollments:
        enrollment.contact = contact  # the locked instance, no query
    return enrollments


def _reply_touch(*, enrollment: Enrollment, now: datetime) -> None:
    """The contact spoke: remember it, and push a running reply timeout on."""
    enrollment.last_inbound_at = now
    timeout = enrollment.current_state.timeout
    if enrollment.timeout_at is not None and timeout:
        enrollment.timeout_at = max(enrollment.timeout_at, now + timeout)


def _route_transition(
    *, enrollments: list[Enrollment], interaction: Interaction, normalized: str
) -> Enrollment | None:
    if not enrollments:
        return None
    from tracking.models import GoalConversion

    # Whether each goal a transition would record was converted already in the
    # enrollment it would move (the active one in its from-state): asked here, in the
    # same query, instead of once per goal later.
    converted = GoalConversion.objects.filter(
        enrollment__contact_id=enrollments[0].contact_id,
        enrollment__status=Status.ACTIVE,
        enrollment__current_state_id=OuterRef("from_state_id"),
    )
    transitions = list(
        Transition.objects.filter(from_state_id__in={e.current_state_id for e in enrollments})
        .select_related("to_state__message", "to_state__goal", "goal")
        .annotate(
            goal_converted=Exists(converted.filter(goal_id=OuterRef("goal_id"))),
            state_goal_converted=Exists(converted.filter(goal_id=OuterRef("to_state__goal_id"))),
        )
        .order_by("priority", "id")
    )
    for enrollment in enrollments:
        for transition in transitions:
            if transition.from_state_id != enrollment.current_state_id:
                continue
            if transition.to_state.plan_id != enrollment.plan_id:
                continue  # a transition into another plan: never followed
            if transition_matches(
                match=transition.match, pattern=transition.pattern, normalized_reply=normalized
            ):
                enrollment_enter_state(
                    enrollment=enrollment,
                    state=transition.to_state,
                    via=Via.REPLY,
                    interaction=interaction,
                    transition=transition,
                )
                return enrollment
    return None


def _route_entry(
    *,
    contact: Contact,
    interaction: Interaction,
    normalized: str,
    enrollments: list[Enrollment],
    new_contact: bool,
) -> Enrollment | None:
    """An entry keyword of another plan, else a catch-all plan."""
    active_plan_ids = {e.plan_id for e in enrollments}
    wanted = Q(plan__entry_trigger=Plan.EntryTrigger.ANY)
    if normalized:
        wanted |= Q(plan__entry_trigger=Plan.EntryTrigger.KEYWORD, plan__entry_keywords__icontains=normalized)
    starts = [
        s
        for s in PlanState.objects.filter(wanted, is_start=True, plan__status=Plan.Status.ACTIVE)
        .select_related("plan", "message", "goal")
        .order_by("plan__created_at", "plan_id")
        if s.plan_id not in active_plan_ids
    ]
    by_keyword = [
        s
        for s in starts
        if s.plan.entry_trigger == Plan.EntryTrigger.KEYWORD and normalized in plan_entry_keywords(s.plan)
    ]
    catch_all = [s for s in starts if s.plan.entry_trigger == Plan.EntryTrigger.ANY]
    for start in by_keyword:
        if _may_enter(contact=contact, plan=start.plan, new_contact=new_contact):
            if start.plan.interrupts_other_plans:
                for enrollment in enrollments:
                    enrollment_end(
                        enrollment=enrollment,
                        status=Status.EXITED,
                        reason=f"Interrupted by the entry keyword {normalized} of {start.plan.slug}",
                    )
            return enrollment_start(
                contact=contact, plan=start.plan, interaction=interaction, start_state=start
            )
    # A catch-all plan takes messages that belong to no conversation: a contact in the
    # middle of a journey gets that state's fallback, not a second journey.
    for start in [] if enrollments else catch_all:
        if _may_enter(contact=contact, plan=start.plan, new_contact=new_contact):
            return enrollment_start(
                contact=contact, plan=start.plan, interaction=interaction, start_state=start
            )
    return None


def _may_enter(*, contact: Contact, plan: Plan, new_contact: bool) -> bool:
    """Re-entry policy (the caller has checked there is no active enrollment in `plan`)."""
    if plan.reentry == Plan.Reentry.NEVER and not new_contact:
        return not Enrollment.objects.filter(contact=contact, plan=plan).exists()
    return True


def _route_fallback(*, enrollment: Enrollment, interaction: Interaction) -> Enrollment | None:
    state = enrollment.current_state
    if not state.fallback_text.strip() or enrollment.fallback_sent:
        return None
    from messaging.rendering import RenderError, sms_body_render
    from messaging.services import outbound_queue

    try:
        body = sms_body_render(
            template=state.fallback_text, contact=enrollment.contact, enrollment=enrollment
        )
    except RenderError:
        logger.exception("Fallback text of state %s does not render; sending it as written", state.pk)
        body = state.fallback_text.strip()
    enrollment.fallback_sent = True
    enrollment.save(update_fields=["fallback_sent", "last_inbound_at", "timeout_at"])
    if body:
        outbound_queue(
            contact=enrollment.contact,
            body=body,
            purpose="fallback",
            answers_contact=True,
            enrollment=enrollment,
            state=state,
        )
    return enrollment


def enrollment_start(
    *,
    contact: Contact,
    plan: Plan,
    interaction: Interaction | None = None,
    start_state: PlanState | None = None,
) -> Enrollment:
    """Enroll `contact` in `plan` at its start state (and enter it).

    `start_state`: the plan's start state when the caller has it already (one query less).
    Raises ValueError when the plan has no start state or the contact is opted out."""
    if contact.opted_out:
        raise ValueError(f"{contact} has opted out and cannot be enrolled.")
    if start_state is None:
        start_state = plan.states.select_related("message", "goal").filter(is_start=True).first()
        if start_state is None:
            raise ValueError(f"The plan {plan.slug} has no start state.")
    now = interaction.created_at if interaction is not None else timezone.now()
    enrollment = Enrollment(
        contact=contact,
        plan=plan,
        current_state=start_state,
        enrolled_at=now,
        state_entered_at=now,
        expires_at=now + plan.enrollment_lifetime,
    )
    _enter(enrollment=enrollment, state=start_state, via=Via.ENROLL, interaction=interaction, now=now)
    return enrollment


def enrollment_enter_state(
    *,
    enrollment: Enrollment,
    state: PlanState,
    via: str,
    interaction: Interaction | None = None,
    transition: Transition | None = None,
    now: datetime | None = None,
) -> None:
    """Move `enrollment` into `state`: record the step, the goal, queue the state's message
    (answers_contact when `interaction` is the contact's own message), complete on final.

    `transition`: the transition followed, whose goal (if any) is recorded too."""
    if enrollment.status != Status.ACTIVE:
        raise ValueError(f"Enrollment {enrollment.pk} is {enrollment.status}, not active.")
    if state.plan_id != enrollment.plan_id:
        raise ValueError(f"State {state.pk} is not in the plan of enrollment {enrollment.pk}.")
    if now is None:
        now = interaction.created_at if interaction is not None else timezone.now()
    _enter(
        enrollment=enrollment, state=state, via=via, interaction=interaction, transition=transition, now=now
    )


def _enter(
    *,
    enrollment: Enrollment,
    state: PlanState,
    via: str,
    interaction: Interaction | None,
    now: datetime,
    transition: Transition | None = None,
) -> None:
    from messaging.rendering import RenderError, sms_body_render
    from messaging.services import outbound_queue
    from tracking.services import goal_convert

    answers_contact = interaction is not None and interaction.direction == Interaction.Direction.INBOUND
    enrollment.current_state = state
    enrollment.state_entered_at = now
    enrollment.fallback_sent = False
    enrollment.prompt_sent_at = None
    # The reply timeout starts when the prompt is sent (scheduling.enrollment_prompt_sent);
    # a state that sends nothing starts waiting now.
    enrollment.timeout_at = now + state.timeout if state.timeout and not state.message_id else None
    if answers_contact:
        enrollment.last_inbound_at = now
    if state.is_final:
        enrollment.complete()
        enrollment.ended_at = now
        enrollment.end_reason = f"Reached {state.name}"[:200]
        enrollment.timeout_at = None
    if enrollment.pk is None:
        enrollment.save(force_insert=True)
    else:
        enrollment.save(
            update_fields=[
                "current_state",
                "state_entered_at",
                "fallback_sent",
                "prompt_sent_at",
                "timeout_at",
                "last_inbound_at",
                "status",
                "ended_at",
                "end_reason",
            ]
        )
    EnrollmentStep.objects.create(
        enrollment=enrollment, state=state, via=via, interaction=interaction, occurred_at=now
    )

    goals: dict[int, tuple] = {}
    if transition is not None and transition.goal is not None:
        goals[transition.goal.pk] = (transition.goal, getattr(transition, "goal_converted", None))
    if state.goal is not None and state.goal.pk not in goals:
        goals[state.goal.pk] = (state.goal, getattr(transition, "state_goal_converted", None))
    for goal, converted in goals.values():
        if converted:
            continue
        goal_convert(
            contact=enrollment.contact,
            goal=goal,
            enrollment=enrollment,
            interaction=interaction,
            known_new=converted is False,
        )

    message = state.message
    if message is not None:
        try:
            body = sms_body_render(template=message.body, contact=enrollment.contact, enrollment=enrollment)
        except RenderError:
            logger.exception("The message %s of state %s does not render: nothing sent", message.pk, state.pk)
            return
        if body or message.media_url:
            outbound_queue(
                contact=enrollment.contact,
                body=body,
                purpose="prompt",
                answers_contact=answers_contact,
                enrollment=enrollment,
                state=state,
                sms_message=message,
                media_url=message.media_url,
            )


def enrollment_end(*, enrollment: Enrollment, status: str, reason: str = "", via: str | None = None) -> None:
    """End an active enrollment with `status` (an EnrollmentStatus other than active)
    through its FSM transition; record the step; clear its timeout."""
    from messaging.models import DeliveryStatus, OutboundMessage

    method = _END_METHODS.get(status)
    if method is None:
        raise ValueError(f"{status!r} does not end an enrollment.")
    getattr(enrollment, method)()  # TransitionNotAllowed unless it is active
    now = timezone.now()
    enrollment.ended_at = now
    enrollment.end_reason = reason[:200]
    enrollment.timeout_at = None
    enrollment.save(update_fields=["status", "ended_at", "end_reason", "timeout_at", "last_inbound_at"])
    step_via = via or _END_VIA.get(status)
    if step_via:
        EnrollmentStep.objects.create(
            enrollment=enrollment, state_id=enrollment.current_state_id, via=step_via, occurred_at=now
        )
    # Reminders held for quiet hours belong to a journey that is over now.
    OutboundMessage.objects.filter(enrollment=enrollment, status=DeliveryStatus.HELD).update(
        status=DeliveryStatus.CANCELED, status_updated_at=now, error_message=f"Enrollment {status}."
    )


__all__ = [
    "EnrollmentStep",
    "enrollment_end",
    "enrollment_enter_state",
    "enrollment_route",
    "enrollment_start",
    "plan_entry_keywords",
]
