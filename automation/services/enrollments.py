"""An enrollment's texts and its end. Owner: engine.

Run inside the caller's transaction with the contact row already locked (the lock order:
``automation.locks``). State machines change state only; the step history and
messages are written here, and messages are queued (sent on commit), never sent. How an
enrollment starts and moves is the interpreter's (``automation.services.interpreter``).
"""

import logging

from django.utils import timezone

from automation.flow import Flow
from automation.models import Enrollment, EnrollmentStep
from automation.revisions import revision_flow
from contacts.models import Contact
from contacts.selectors import contact_template_values

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


def enrollment_text_context(
    *, enrollment: Enrollment, contact: Contact | None = None, flow: Flow | None = None
) -> dict:
    """What a marketer's text sees (messaging.rendering): the contact's own values and the
    enrollment's plan, revision and step as plain values, never model instances. `flow`:
    the enrollment's revision when the caller has it (the preview's sample plan)."""
    flow = revision_flow(enrollment.revision_id) if flow is None else flow
    step = flow.steps.get(enrollment.step_id)
    name = step.name if step is not None else enrollment.step_id
    return {
        "contact": contact_template_values(contact or enrollment.contact),
        "enrollment": {
            "plan": {"name": flow.name, "slug": flow.slug},
            "state": name,
            "step": enrollment.step_id,
            "revision": flow.revision,
            "status": enrollment.status,
            "enrolled_at": enrollment.enrolled_at,
            "expires_at": enrollment.expires_at,
            "branches": dict(enrollment.branches or {}),
        },
    }


def enrollment_text_queue(
    *,
    enrollment: Enrollment,
    template: str,
    purpose: str,
    answers_contact: bool,
    step_id: str = "",
    media_urls: tuple[str, ...] = (),
    contact: Contact | None = None,
):
    """Render one of the enrollment's texts for its contact (``enrollment_text_context``)
    and queue it (messaging's render-and-queue: a text that does not render fails that one
    message). `contact`: the enrollment's contact when the caller has it loaded already.
    Its URLs are sent as tracked links when the plan says so (``track_links``)."""
    from messaging.services import outbound_render_queue

    contact = contact or enrollment.contact
    track_links = revision_flow(enrollment.revision_id).track_links
    return outbound_render_queue(
        template=template,
        context=enrollment_text_context(enrollment=enrollment, contact=contact),
        contact=contact,
        purpose=purpose,
        answers_contact=answers_contact,
        enrollment=enrollment,
        step_id=step_id,
        media_urls=media_urls,
        track_links=track_links,
    )


def enrollment_end(*, enrollment: Enrollment, status: str, reason: str = "", via: str | None = None) -> None:
    """End an active enrollment with `status` (an EnrollmentStatus other than active)
    through its FSM transition; record the step; clear its timer."""
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
            enrollment=enrollment,
            plan_id=enrollment.plan_id,
            step_id=enrollment.step_id,
            from_step_id=enrollment.step_id,
            via=step_via,
            occurred_at=now,
        )
    # Texts held for quiet hours belong to a journey that is over now.
    outbound_cancel_unsent(
        enrollment=enrollment, statuses=(DeliveryStatus.HELD,), reason=f"Enrollment {status}."
    )
