"""The journey engine. Owner: engine (issue 3).

All functions run inside the caller's transaction with the contact row already locked
(lock order everywhere: contact, then enrollment). No network I/O: messages are queued
with messaging.services.outbound_queue, which sends on commit.
"""

from contacts.models import Contact
from tracking.models import Interaction

from automation.models import Enrollment, EnrollmentStep, Plan, PlanState


def enrollment_route(*, contact: Contact, interaction: Interaction, normalized: str) -> None:
    """Route one inbound (non-compliance) reply: a transition of an active enrollment,
    else another plan's entry keyword, else a catch-all entry, else the state's fallback."""
    raise NotImplementedError


def enrollment_start(*, contact: Contact, plan: Plan, interaction: Interaction | None = None) -> Enrollment:
    """Enroll `contact` in `plan` at its start state (and enter it)."""
    raise NotImplementedError


def enrollment_enter_state(
    *, enrollment: Enrollment, state: PlanState, via: str, interaction: Interaction | None = None
) -> None:
    """Move `enrollment` into `state`: record the step, the goal, queue the state's message
    (answers_contact when `interaction` is the contact's own message), complete on final."""
    raise NotImplementedError


def enrollment_end(*, enrollment: Enrollment, status: str, reason: str = "", via: str | None = None) -> None:
    """End an active enrollment with `status` (an EnrollmentStatus other than active)
    through its FSM transition; record the step; clear its timeout."""
    raise NotImplementedError


__all__ = ["EnrollmentStep"]
