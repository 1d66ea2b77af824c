"""Events moving journeys (docs/reference.md §7: ``POST /api/events/``).

An event is something a contact did elsewhere (a purchase in the shop, a click on a
tracked link). One transaction that locks the contact first (created if new; the lock
order: ``automation.locks``):

1. keep the event on the contact's timeline (``tracking.services.event_store``); the same
   ``event_id`` from the same sender (API user) again changes nothing, and for another
   phone it is refused (``EventIdTaken``): an event id names one event of one contact;
2. ``opt_in``: the event is the contact's marketing consent (source: the event);
3. the goals of this event type of each active enrollment's plan convert (once per
   enrollment), carrying the event's value: the plan's revenue in its report;
4. the enrollments waiting at a ``wait_event`` of this type move on;
5. the plans this event type enters take the contact, only with marketing consent on
   record (docs/reference.md §5) and as their re-entry policy allows; a plan that interrupts others
   ends the contact's other journeys, as an entry keyword does.

No network I/O: texts are queued and sent on commit (quiet hours and the frequency cap
apply: an event is not the contact writing to us)."""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from automation.engine.interpreter import enrollment_advance, enrollment_may_enter, enrollment_start
from automation.engine.revisions import entry_flows, flow_goal_id, revision_flow
from automation.engine.routing import enrollments_interrupt
from automation.flow import Event
from automation.locks import enrollments_active_lock
from automation.models import Enrollment
from contacts.locks import contact_lock
from contacts.models import ConsentEvent, Contact
from contacts.services import contact_consent_record, contact_insert_if_new
from infra.logs import log_context, log_context_add
from infra.metrics import EVENTS, metric_count
from tracking.models import Interaction
from tracking.services import EventIn, event_data, event_find, event_store, goal_convert

logger = logging.getLogger(__name__)

Status = Enrollment.Status


@dataclass(frozen=True)
class EventReceived:
    """What ``event_receive`` did: the event's interaction, its contact, whether it was a
    repeat of one seen before, and the slugs of the plans it enrolled the contact in."""

    interaction_id: int
    contact_id: int
    duplicate: bool
    enrolled: list[str]


class EventIdTaken(Exception):
    """The sender kept an event under this id before, for another phone (docs/reference.md §7: 409)."""


def _repeat(seen: Interaction, event: EventIn) -> EventReceived:
    """`event` again (a duplicate), or EventIdTaken when the one kept was another phone's."""
    if seen.from_address != event.phone:
        raise EventIdTaken(
            f"{event.event_id} was sent before for another phone number: an event id names one "
            "event (send each event under an id of its own)."
        )
    return EventReceived(seen.pk, seen.contact_id, duplicate=True, enrolled=[])


def event_receive(*, event: EventIn, enrollment_id: int | None = None) -> EventReceived:
    """Keep `event` and let it move the contact's journeys (see the module's docstring).
    `enrollment_id`: only that enrollment's waits and goals hear it (a click on a tracked
    link is news for the journey that sent the link, docs/reference.md §6). EventIdTaken, nothing
    changed, when its sender used its id before for another phone."""
    with log_context():  # its log lines name the contact and the event (docs/reference.md §9)
        return _event_receive(event=event, enrollment_id=enrollment_id)


def _event_receive(*, event: EventIn, enrollment_id: int | None) -> EventReceived:
    seen = event_find(event=event)
    if seen is not None:
        return _repeat(seen, event)
    with transaction.atomic():
        contact_id = (
            contact_insert_if_new(phone=event.phone)
            or Contact.objects.filter(phone=event.phone).values_list("pk", flat=True).get()
        )
        contact = contact_lock(contact_id=contact_id)
        now = timezone.now()
        interaction, created = event_store(contact=contact, event=event, now=now)
        if not created:
            # Stored a moment ago by a concurrent request: the contact made here is undone too.
            transaction.set_rollback(True)
            return _repeat(interaction, event)
        log_context_add(contact_id=contact.pk, message_id=interaction.pk)
        if event.posted_by_id is not None:  # the API's (a link's first click is the product's)
            metric_count(EVENTS)
        if event.opt_in:
            # At the event's arrival (`now`), the time of the enrollments it makes: the consent
            # log reads the consent before them. Never for an opted-out contact (docs/reference.md §5).
            contact_consent_record(
                contact=contact,
                source=ConsentEvent.Source.EVENT,
                detail=f"{event.type} {event.event_id}",
                rule="opt_in",
                at=now,
            )
        enrollments = enrollments_active_lock(contact=contact)
        hearing = [e for e in enrollments if enrollment_id is None or e.pk == enrollment_id]
        for enrollment in hearing:
            _goals_convert(contact=contact, enrollment=enrollment, interaction=interaction)
        external = Event(type=event.type, data=event_data(interaction))
        for enrollment in hearing:
            enrollment_advance(
                enrollment=enrollment,
                contact=contact,
                event="event",
                now=now,
                external=external,
                interaction=interaction,
            )
        enrolled = _plans_enter(contact=contact, interaction=interaction, enrollments=enrollments, now=now)
    return EventReceived(interaction.pk, contact.pk, duplicate=False, enrolled=enrolled)


def _goals_convert(*, contact: Contact, enrollment: Enrollment, interaction: Interaction) -> None:
    """Convert the goals of the enrollment's plan that this event type reaches."""
    flow = revision_flow(enrollment.revision_id)
    for slug, goal in flow.goals.items():
        if goal.event != interaction.body:
            continue
        goal_id = flow_goal_id(flow, slug)
        if goal_id is None:
            logger.error("plan %s: goal %r does not exist; not recorded", flow.slug, slug)
            continue
        goal_convert(
            contact=contact,
            goal_id=goal_id,
            enrollment=enrollment,
            interaction=interaction,
            value=interaction.value,
        )


def _plans_enter(
    *, contact: Contact, interaction: Interaction, enrollments: list[Enrollment], now
) -> list[str]:
    """Enroll the contact in every active plan whose entry is this event type: the slugs."""
    starts = [
        (plan_id, revision_id, flow)
        for plan_id, revision_id, flow in entry_flows()
        if flow.entry.trigger == "event" and flow.entry.event == interaction.body
    ]
    if not starts:
        return []
    if contact.opted_out or contact.consent_at is None:
        logger.info(
            "event %s: %s has no marketing consent on record; not enrolled in %s",
            interaction.event_id, contact.pk, ", ".join(flow.slug for _, _, flow in starts),
        )  # fmt: skip
        return []
    enrolled = []
    for plan_id, revision_id, flow in starts:
        if any(e.plan_id == plan_id and e.status == Status.ACTIVE for e in enrollments):
            continue
        if not enrollment_may_enter(contact=contact, plan_id=plan_id, flow=flow):
            continue
        if flow.interrupts_other_plans:
            enrollments_interrupt(
                enrollments=enrollments,
                reason=f"Interrupted by the event {interaction.body} entering {flow.slug}",
            )
        enrollment_start(
            contact=contact, plan_id=plan_id, revision_id=revision_id, interaction=interaction, now=now
        )
        enrolled.append(flow.slug)
    return enrolled


__all__ = ["EventIdTaken", "EventReceived", "event_receive"]
