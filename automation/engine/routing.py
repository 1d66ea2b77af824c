"""The journey engine: routing one reply.

All functions run inside the caller's transaction with the contact row already locked
(the lock order: ``automation.locks``). No network I/O: texts are queued and sent on
commit.

Routing of one reply (docs/architecture.md §3; compliance keywords were handled by the caller):
1. a rule of the step one of the contact's active enrollments waits at (the enrollment
   whose step was entered last is asked first);
2. else another active plan's entry keyword: enroll, ending the current enrollments as
   ``exited`` unless that plan says it does not interrupt;
3. else, when the contact has no active enrollment at all, a catch-all plan (entry
   trigger "any") it may (re-)enter: the oldest such plan;
4. else the step's answer to an unmatched reply (an ask's ``other``).
"""

import logging

from automation.engine.enrollments import enrollment_end
from automation.engine.interpreter import enrollment_advance, enrollment_may_enter, enrollment_start
from automation.engine.revisions import entry_flows, revision_flow
from automation.flow import Reply
from automation.locks import enrollments_active_lock
from automation.models import Enrollment
from contacts.models import ConsentEvent, Contact
from contacts.services import contact_consent_record
from tracking.models import Interaction

logger = logging.getLogger(__name__)

Status = Enrollment.Status


def enrollment_route(*, contact: Contact, interaction: Interaction, normalized: str) -> None:
    """Route one inbound (non-compliance) reply: a step's rule, else another plan's entry
    keyword, else a catch-all entry, else the step's answer to an unmatched reply."""
    now = interaction.created_at
    enrollments = enrollments_active_lock(contact=contact)
    # What hearing from the contact changed on each enrollment, saved with the step's own
    # changes when a step takes the message, else at the end.
    unsaved = {enrollment.pk: _reply_touch(enrollment=enrollment, now=now) for enrollment in enrollments}

    reply = Reply(text=interaction.body, normalized=normalized)

    def advance(enrollment: Enrollment, event: str) -> bool:
        """The enrollment's step takes the message as `event`: its unsaved changes go with
        the step's own (saved by the step)."""
        took = enrollment_advance(
            enrollment=enrollment,
            contact=contact,
            event=event,
            now=now,
            reply=reply,
            interaction=interaction,
            unsaved=unsaved[enrollment.pk],
        )
        if took:
            unsaved[enrollment.pk] = []
        return took

    handled = next((e for e in enrollments if advance(e, "reply")), None)
    if handled is None:
        handled = _route_entry(
            contact=contact, interaction=interaction, normalized=normalized, enrollments=enrollments
        )
    if handled is None and enrollments and advance(enrollments[0], "unmatched"):
        handled = enrollments[0]
    if handled is None and not enrollments:
        # Said out loud: on a new deploy, "nobody answers" is most often "no plan is active".
        no_plan = not entry_flows()
        logger.log(
            logging.WARNING if no_plan else logging.INFO,
            "no plan took the message of contact %s (%s): it is stored, nobody answers",
            contact.pk,
            "there is no active plan" if no_plan else "no entry keyword or catch-all plan matched",
        )
    # Every active enrollment heard from the contact (timeouts measure silence).
    for enrollment in enrollments:
        if enrollment.status == Status.ACTIVE and unsaved[enrollment.pk]:
            enrollment.save(update_fields=unsaved[enrollment.pk])


def enrollments_interrupt(*, enrollments: list[Enrollment], reason: str) -> None:
    """A plan that interrupts others was entered: end the still active `enrollments` (locked)
    as ``exited`` (what hearing from the contact changed is saved with the end)."""
    for enrollment in enrollments:
        if enrollment.status == Status.ACTIVE:
            enrollment_end(enrollment=enrollment, status=Status.EXITED, reason=reason)


def _reply_touch(*, enrollment: Enrollment, now) -> list[str]:
    """The contact spoke: remember it, and push a running silence timeout on. The fields
    whose value changed (not saved yet)."""
    changed = []
    if enrollment.last_inbound_at != now:
        enrollment.last_inbound_at = now
        changed.append("last_inbound_at")
    step = revision_flow(enrollment.revision_id).steps.get(enrollment.step_id)
    after = step.kind.timer_after_prompt(step.data) if step is not None else None
    if enrollment.timeout_at is not None and after and enrollment.timeout_at < now + after:
        enrollment.timeout_at = now + after
        changed.append("timeout_at")
    return changed


def _route_entry(
    *, contact: Contact, interaction: Interaction, normalized: str, enrollments: list[Enrollment]
) -> Enrollment | None:
    """An entry keyword of another plan, else a catch-all plan."""
    active_plan_ids = {e.plan_id for e in enrollments}
    to = interaction.to_address
    starts = [
        (plan_id, revision_id, flow)
        for plan_id, revision_id, flow in entry_flows()
        if plan_id not in active_plan_ids and flow.entry.sender in (None, to)
    ]
    for plan_id, revision_id, flow in starts:
        if flow.entry.trigger != "keyword" or normalized not in flow.entry.keywords:
            continue
        if enrollment_may_enter(contact=contact, plan_id=plan_id, flow=flow):
            if flow.interrupts_other_plans:
                enrollments_interrupt(
                    enrollments=enrollments,
                    reason=f"Interrupted by the entry keyword {normalized} of {flow.slug}",
                )
            if contact.consent_at is None and not flow.double_opt_in:
                # Texting a plan's entry keyword is consent to its marketing texts (docs/reference.md §5);
                # with double opt-in, the YES its first step asks for is. Recorded first, at the
                # message's time (the enrollment's too): the log reads consent, then enrollment.
                contact_consent_record(
                    contact=contact,
                    source=ConsentEvent.Source.KEYWORD,
                    detail=normalized,
                    text=interaction.body,
                    rule=f"entry keyword {normalized} of {flow.slug}",
                    at=interaction.created_at,
                )
            return enrollment_start(
                contact=contact, plan_id=plan_id, revision_id=revision_id, interaction=interaction
            )
    # A catch-all plan takes messages that belong to no conversation: a contact in the
    # middle of a journey gets that step's answer to an unmatched reply, not a second journey.
    if enrollments:
        return None
    for plan_id, revision_id, flow in starts:
        if flow.entry.trigger == "any" and enrollment_may_enter(contact=contact, plan_id=plan_id, flow=flow):
            return enrollment_start(
                contact=contact, plan_id=plan_id, revision_id=revision_id, interaction=interaction
            )
    return None


__all__ = ["enrollment_route", "enrollments_interrupt"]
