"""The simulator's turns: the test contact texts the plan, or does something elsewhere (an
event), and the page shows what came back."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from automation.cockpit.simulator.state import (
    MAX_MESSAGE_LENGTH,
    SimulatorTurn,
    simulator_choices,
    simulator_contact,
    simulator_revision,
    simulator_sender,
    simulator_state,
)
from automation.engine.inbound import inbound_message_route
from automation.engine.revisions import revision_flow
from automation.flow.matching import reply_normalize
from automation.models import Enrollment, EnrollmentStatus, Plan
from contacts.compliance import compliance_intent, compliance_settles
from contacts.locks import contact_lock
from contacts.models import Contact
from messaging.channels import SMS, WHATSAPP, channel_address
from tracking.models import Interaction
from tracking.services import InboundPayloadError, inbound_message_receive


def simulator_send(*, plan: Plan, user, text: str, channel: str = SMS) -> SimulatorTurn:
    """Send `text` to the plan as the user's test contact, over `channel` (``sms`` or
    ``whatsapp``: ``whatsapp:`` addresses, as Twilio sends them); return what came back.
    Raises ValidationError (nothing stored) when a non-active plan cannot enroll anyone, or
    the message is one the webhook would refuse."""
    text = (text or "")[:MAX_MESSAGE_LENGTH]
    channel = WHATSAPP if channel == WHATSAPP else SMS
    contact = simulator_contact(plan=plan, user=user)
    revision = simulator_revision(plan=plan)
    sender = simulator_sender(flow=revision_flow(revision.pk) if revision else None, channel=channel)
    address = channel_address(channel=channel, number=contact.phone)
    started = timezone.now()
    sid = f"SMsim{uuid.uuid4().hex[:29]}"
    note = ""
    # What compliance settles (a STOP, "stop texting me", HELP, anything from an opted-out
    # contact) goes through the engine's own routing below, never into a plan directly.
    intent = compliance_intent(text=text, normalized=reply_normalize(text))
    settled = compliance_settles(intent, opted_out=contact.opted_out)
    enrolled = Enrollment.objects.filter(contact=contact, plan=plan, status=EnrollmentStatus.ACTIVE).exists()
    has_draft = plan.revisions.filter(published_at__isnull=True).exists()
    choices = simulator_choices(plan=plan, user=user)
    direct = plan.status != Plan.Status.ACTIVE or has_draft or bool(choices)

    if direct and not enrolled and not settled:
        if revision is None:  # nothing of this message is kept
            raise ValidationError(f"{plan.name} cannot enroll anyone yet: it has no revision.")

        def store(locked: Contact) -> Interaction:
            now = timezone.now()
            # Routed here and now (it enrolls): the engine must not take it again as a
            # reply when the contact's next message claims the ones still waiting.
            message = Interaction.objects.create(
                contact=locked,
                channel=channel,
                direction=Interaction.Direction.INBOUND,
                from_address=address,
                to_address=sender,
                body=text,
                provider_sid=sid,
                raw_payload={"simulator": True},
                created_at=now,
                routed_at=now,
            )
            locked.last_inbound_at = now
            locked.save(update_fields=["last_inbound_at", "updated_at"])
            return message

        sent = _enroll_directly(plan=plan, contact=contact, revision=revision, branches=choices, store=store)
        if plan.status != Plan.Status.ACTIVE:
            status = plan.get_status_display().lower()
            why = f"{plan.name} is {status} (only active plans enroll real contacts)"
        elif revision.published_at is None:
            why = f"you are trying the draft (revision {revision.number}), which real contacts do not get yet"
        else:
            why = "you chose the branches to take at its A/B splits"
        note = f"The test contact was enrolled directly: {why}."
    else:
        payload = {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "AccountSid": settings.TWILIO_ACCOUNT_SID or "AC-simulator",
            "From": address,
            "To": sender,
            "Body": text,
            "NumMedia": "0",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        # Routed here, whatever the broker: the marketer waits for the answer on this page.
        try:
            accepted = inbound_message_receive(payload=payload)
        except InboundPayloadError as exc:  # what the webhook would answer 400 to
            raise ValidationError(f"The webhook would refuse this message: {exc}") from exc
        if accepted.interaction_id is not None:
            inbound_message_route(interaction_id=accepted.interaction_id)
        sent = Interaction.objects.get(pk=accepted.interaction_id)

    state = simulator_state(plan=plan, user=user)
    missed = state.enrollment is None or state.enrollment.enrolled_at < started
    if not note and plan.status == Plan.Status.ACTIVE and not enrolled and missed:
        others = list(
            Enrollment.objects.filter(contact=contact, status=EnrollmentStatus.ACTIVE)
            .exclude(plan=plan)
            .values_list("plan__name", flat=True)
        )
        note = f"This message did not enroll the test contact in {plan.name}"
        entry = revision_flow(plan.published_id).entry if plan.published_id else None
        if entry is not None and entry.trigger == "keyword":
            note += f" (its entry keywords: {', '.join(sorted(entry.keywords))})"
        note += "." + (f" It is enrolled in: {', '.join(others)}." if others else "")
    return SimulatorTurn(sent=sent, replies=_replies_since(contact, started), state=state, note=note)


def simulator_event(*, plan: Plan, user, type: str, value: Decimal | None = None) -> SimulatorTurn:
    """The user's test contact does something elsewhere: an event of `type` (docs/reference.md §7, as
    a shop would post it) moves its journey. When the test contact is not in the plan yet
    and the plan is entered by this event, it is enrolled directly at what the simulator
    tries (as a first message would be); a real contact enters only with marketing consent
    on record, and the note says so. Raises ValidationError for a type that is none."""
    from automation.engine.events import event_receive
    from tracking.models import EVENT_TYPE
    from tracking.services import EventIn, event_store

    if not EVENT_TYPE.fullmatch(type or ""):
        raise ValidationError(f"{type!r} is not an event type (lower-case letters, digits, '_', '.' or '-').")
    contact = simulator_contact(plan=plan, user=user)
    started = timezone.now()
    event = EventIn(
        event_id=f"try-{uuid.uuid4().hex[:12]}",
        phone=contact.phone,
        type=type,
        value=value,
        data={"simulator": True},
        occurred_at=started,
    )
    enrolled = Enrollment.objects.filter(contact=contact, plan=plan, status=EnrollmentStatus.ACTIVE).exists()
    revision = simulator_revision(plan=plan)
    entry = revision_flow(revision.pk).entry if revision is not None else None
    note = ""
    if not enrolled and entry is not None and entry.trigger == "event" and entry.event == type:
        if contact.opted_out:
            raise ValidationError("The test contact has opted out: send START first.")
        sent = _enroll_directly(
            plan=plan,
            contact=contact,
            revision=revision,
            branches=simulator_choices(plan=plan, user=user),
            store=lambda locked: event_store(contact=locked, event=event, now=started)[0],
        )
        note = (
            f"The test contact entered {plan.name} by the event {type}. A real contact enters "
            "only with marketing consent on record (a keyword, an opt-in word, an event with "
            "opt_in, an import or a person)."
        )
    else:
        received = event_receive(event=event)
        sent = Interaction.objects.get(pk=received.interaction_id)
        if not enrolled:
            note = f"The event {type} did not enroll the test contact in {plan.name}."
    state = simulator_state(plan=plan, user=user)
    return SimulatorTurn(sent=sent, replies=_replies_since(contact, started), state=state, note=note)


def _enroll_directly(*, plan: Plan, contact: Contact, revision, branches: dict, store) -> Interaction:
    """Enroll the test contact at `revision` on what `store(locked contact)` keeps (its
    message, its event), with the `branches` the marketer chose; that interaction."""
    from automation.engine.interpreter import enrollment_start

    with transaction.atomic():
        locked = contact_lock(contact_id=contact.pk)
        sent = store(locked)
        enrollment_start(
            contact=locked,
            plan_id=plan.pk,
            revision_id=revision.pk,
            interaction=sent,
            branches=branches,
        )
    return sent


def _replies_since(contact: Contact, started) -> list[Interaction]:
    """What the test contact was sent since `started`, oldest first."""
    return list(
        Interaction.objects.filter(
            contact=contact, direction=Interaction.Direction.OUTBOUND, created_at__gte=started
        ).order_by("created_at", "id")
    )
