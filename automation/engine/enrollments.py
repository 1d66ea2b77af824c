"""An enrollment's texts and its end.

Run inside the caller's transaction with the contact row already locked (the lock order:
``automation.locks``). State machines change state only; the step history and
messages are written here, and messages are queued (sent on commit), never sent. How an
enrollment starts and moves is the interpreter's (``automation.engine.interpreter``).
"""

import logging
from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from automation.engine.revisions import revision_flow
from automation.flow.context import text_context
from automation.models import Enrollment, EnrollmentStep
from contacts.models import Contact
from messaging.models import Sender
from messaging.senders import sender_by_id, sender_of_address

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
    """What a marketer's text sent by `enrollment` sees (``automation.flow.context``, the one
    home of a text's context): its contact's values, its plan, revision and step."""
    return text_context(
        enrollment=enrollment,
        contact=contact or enrollment.contact,
        flow=revision_flow(enrollment.revision_id),
    )


def enrollment_sender(*, enrollment: Enrollment) -> Sender | None:
    """The sender an enrollment's texts go from (docs/reference.md §8): the one the contact
    last wrote to in it, else its plan's entry sender, else None (the default sender)."""
    sender = sender_by_id(enrollment.sender_id)
    if sender is not None:
        return sender
    address = revision_flow(enrollment.revision_id).entry.sender
    if not address:
        return None
    sender = sender_of_address(address)
    if sender is None:
        logger.warning("plan sender %r is no sender: %s texts from the default", address, enrollment.pk)
    return sender


def enrollment_text_queue(
    *,
    enrollment: Enrollment,
    template: str,
    purpose: str,
    answers_contact: bool,
    step_id: str = "",
    media_urls: tuple[str, ...] = (),
    contact: Contact | None = None,
    whatsapp_template: Mapping[str, Any] | None = None,
):
    """Render one of the enrollment's texts for its contact (``enrollment_text_context``)
    and queue it from the enrollment's sender (``enrollment_sender``; messaging's
    render-and-queue: a text that does not render fails that one message). `contact`: the
    enrollment's contact when the caller has it loaded already. Its URLs are sent as
    tracked links when the plan says so (``track_links``). `whatsapp_template`: the step's
    (docs/reference.md §6), what goes over WhatsApp outside the 24-hour window."""
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
        sender=enrollment_sender(enrollment=enrollment),
        whatsapp_template=whatsapp_template,
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
        enrollment=enrollment, statuses=(DeliveryStatus.HELD,), handed=False, reason=f"Enrollment {status}."
    )
