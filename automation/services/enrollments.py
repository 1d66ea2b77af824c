"""An enrollment's life: start, enter a state, end. Owner: engine (issue 3).

Run inside the caller's transaction with the contact row already locked (lock order:
contact, then enrollment). State machines change state only; the step history, goals and
messages are written here, and messages are queued (sent on commit), never sent.
"""

import logging
from datetime import datetime

from django.utils import timezone

from automation.models import Enrollment, EnrollmentStep, Plan, PlanState, Transition
from contacts.models import Contact
from contacts.selectors import contact_template_values
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


def enrollment_text_context(*, enrollment: Enrollment, contact: Contact | None = None) -> dict:
    """What a marketer's text sees (messaging.rendering): the contact's own values and the
    enrollment's plan and step as plain values, never model instances."""
    plan, state = enrollment.plan, enrollment.current_state
    return {
        "contact": contact_template_values(contact or enrollment.contact),
        "enrollment": {
            "plan": {"name": plan.name, "slug": plan.slug},
            "state": state.name if state is not None else "",
            "step": state.name if state is not None else "",
            "revision": None,
            "status": enrollment.status,
            "enrolled_at": enrollment.enrolled_at,
            "expires_at": enrollment.expires_at,
        },
    }


def enrollment_text_queue(
    *,
    enrollment: Enrollment,
    template: str,
    purpose: str,
    answers_contact: bool,
    state: PlanState | None = None,
    sms_message=None,
    media_url: str = "",
    contact: Contact | None = None,
):
    """Render one of the enrollment's texts for its contact (``enrollment_text_context``)
    and queue it (messaging's render-and-queue: a text that does not render fails that one
    message). `contact`: the enrollment's contact when the caller has it loaded already."""
    from messaging.services import outbound_render_queue

    contact = contact or enrollment.contact
    return outbound_render_queue(
        template=template,
        context=enrollment_text_context(enrollment=enrollment, contact=contact),
        contact=contact,
        purpose=purpose,
        answers_contact=answers_contact,
        enrollment=enrollment,
        state=state,
        sms_message=sms_message,
        media_url=media_url,
    )


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
            ],
        )
    EnrollmentStep.objects.create(
        enrollment=enrollment, state=state, via=via, interaction=interaction, occurred_at=now
    )

    # The transition's goal, then the state's: each recorded once per enrollment (the
    # unique constraint decides, in the INSERT itself).
    goals = [g for g in (transition.goal if transition is not None else None, state.goal) if g is not None]
    if len(goals) == 2 and goals[0].pk == goals[1].pk:
        goals.pop()
    for goal in goals:
        goal_convert(contact=enrollment.contact, goal=goal, enrollment=enrollment, interaction=interaction)

    message = state.message
    if message is not None:
        enrollment_text_queue(
            enrollment=enrollment,
            template=message.body,
            purpose="prompt",
            answers_contact=answers_contact,
            state=state,
            sms_message=message,
            media_url=message.media_url,
        )


def enrollment_end(*, enrollment: Enrollment, status: str, reason: str = "", via: str | None = None) -> None:
    """End an active enrollment with `status` (an EnrollmentStatus other than active)
    through its FSM transition; record the step; clear its timeout."""
    from messaging.models import DeliveryStatus
    from messaging.services import outbound_cancel_unsent

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
    outbound_cancel_unsent(
        enrollment=enrollment, statuses=(DeliveryStatus.HELD,), reason=f"Enrollment {status}."
    )
