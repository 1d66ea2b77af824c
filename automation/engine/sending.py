"""What a send means for the journey (the orchestrating layer acts on messaging's outcome):
a prompt Twilio accepted arms its reply timeout; a number that opted out at the carrier
(21610) is opted out (``contact_carrier_opt_out``, as when a status callback says so); a
number that cannot receive SMS (21211, 21614, 21635) fails the enrollment that texted it."""

from django.db import transaction

from automation.engine.consent import contact_carrier_opt_out
from automation.engine.enrollments import enrollment_end
from automation.engine.scheduling import enrollment_prompt_sent
from automation.locks import enrollment_lock
from automation.models import EnrollmentStatus
from contacts.locks import contact_lock
from messaging.services import SendOutcome
from messaging.services.policy import CODE_OPTED_OUT, CODES_UNREACHABLE, PROMPT_PURPOSES


def outbound_outcome_apply(*, outcome: SendOutcome) -> None:
    """Act on one send's outcome. Idempotent."""
    if outcome.sent_at is not None:
        if outcome.purpose in PROMPT_PURPOSES and outcome.enrollment_id:
            enrollment_prompt_sent(outbound_id=outcome.outbound_id, sent_at=outcome.sent_at)
        return
    if outcome.failed_code == CODE_OPTED_OUT:
        contact_carrier_opt_out(contact_id=outcome.contact_id)
        return
    if outcome.failed_code not in CODES_UNREACHABLE or not outcome.enrollment_id:
        return
    with transaction.atomic():
        contact = contact_lock(contact_id=outcome.contact_id)
        enrollment = (
            None if contact is None else enrollment_lock(enrollment_id=outcome.enrollment_id, contact=contact)
        )
        if enrollment is not None:
            enrollment_end(
                enrollment=enrollment,
                status=EnrollmentStatus.FAILED,
                reason=f"Twilio {outcome.failed_code}: {outcome.failed_message}"[:200],
            )
