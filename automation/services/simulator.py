"""Try-it: a marketer chats with a plan as a test contact, through the real engine.

Each (plan, user) pair has its own test contact, made by the simulator and recorded as
such (``SimulatorContact``; ``Contact.is_test``, which the admin does not let anyone edit),
numbered in the fictional North American range NXX-555-0100…0199 (numbers that are never
assigned), so nothing a marketer types can reach a real phone; messaging sends to test
contacts with the ``locmem`` backend whatever ``SMS_BACKEND`` says, and reports, exports
and the API leave them out. "Reset" deletes only a contact the simulator made.

A message is handed to ``tracking.services.inbound_message_receive`` shaped like Twilio's
webhook payload: compliance keywords, transitions, fallbacks, goals and replies are all
the interpreter's own. The engine enrolls real contacts only in active plans at their
published revision; the simulator tries what the marketer is editing. So when the test
contact is not enrolled yet and the plan is not active, or has a draft, or the marketer
chose branches at its A/B splits, its message is recorded and the contact enrolled
directly with ``enrollment_start`` at the plan's draft (else its published revision), as
if the message had been an entry message, with the chosen branches taken as drawn. From
then on every message goes through the engine as usual.

Timers need not be waited for: "Skip the wait" fires the test enrollment's timer (a
delay, a silence timeout, a wait for an event) now. "Send an event" does what a shop's
``POST /api/events/`` would (a purchase moves a wait for it, converts the goals on it,
enters a plan entered by it). What each step did (the value saved,
the branch taken, the web service's answer) is in its step history.
"""

import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from automation.models import Enrollment, EnrollmentStatus, Plan, SimulatorContact
from automation.revisions import revision_flow
from automation.services.inbound import inbound_message_route
from contacts.models import Contact
from contacts.services import contact_insert_if_new, contact_lock
from messaging.models import OutboundMessage
from tracking.models import Interaction
from tracking.services import InboundMessage, inbound_message_receive, inbound_message_store

# Fictional lines 555-0100…555-0199 in a few area codes: 100 test contacts per area code.
SIMULATOR_AREA_CODES = ("202", "212", "213", "305", "312", "415", "512", "617", "702", "818")
MAX_MESSAGE_LENGTH = 1600


@dataclass(frozen=True)
class SimulatorSplit:
    step_id: str
    name: str
    branches: tuple[str, ...]
    chosen: str  # "" = let it draw


@dataclass
class SimulatorState:
    contact: Contact | None
    enrollment: Enrollment | None  # the latest enrollment of the test contact in the plan
    splits: tuple[SimulatorSplit, ...] = ()
    event_types: tuple[str, ...] = ()  # the events the plan enters on, waits for, or counts

    @property
    def waits_for(self) -> str:
        """The event type the step the test contact is at waits for ("" when none)."""
        if self.enrollment is None or self.enrollment.status != EnrollmentStatus.ACTIVE:
            return ""
        step = revision_flow(self.enrollment.revision_id).steps.get(self.enrollment.step_id)
        return step.data.get("event", "") if step is not None and step.type == "wait_event" else ""

    @property
    def timer_at(self):
        """When the step the test contact is at would go on by itself (None: it does not)."""
        if self.enrollment is None or self.enrollment.status != EnrollmentStatus.ACTIVE:
            return None
        return self.enrollment.timeout_at

    @property
    def steps(self) -> list[tuple[str, str, str]]:
        """The steps the test enrollment took, oldest first: (name, how, what happened)."""
        if self.enrollment is None:
            return []
        from automation.models import EnrollmentStep

        flow = revision_flow(self.enrollment.revision_id)
        rows = EnrollmentStep.objects.filter(enrollment=self.enrollment).order_by("occurred_at", "id")
        return [
            (
                flow.steps[r.step_id].name if r.step_id in flow.steps else r.step_id,
                r.get_via_display(),
                r.detail,
            )
            for r in rows[:200]
        ]

    @property
    def values(self) -> list[tuple[str, object]]:
        """What the plan may have saved on the test contact: its fields and attributes."""
        if self.contact is None:
            return []
        c = self.contact
        fields = [(f, getattr(c, f)) for f in ("first_name", "last_name", "email", "timezone", "locale")]
        attributes = [(f"attributes.{k}", v) for k, v in sorted((c.attributes or {}).items())]
        return [(k, v) for k, v in fields + attributes if v not in (None, "")]

    @property
    def state_name(self) -> str:
        if self.enrollment is None:
            return ""
        step = revision_flow(self.enrollment.revision_id).steps.get(self.enrollment.step_id)
        return step.name if step is not None else self.enrollment.step_id

    @property
    def status(self) -> str:
        return self.enrollment.status if self.enrollment else ""


@dataclass
class SimulatorTurn:
    sent: Interaction | None
    replies: list[Interaction]
    state: SimulatorState
    note: str = ""


def _lookup(*, plan: Plan, user) -> Contact | None:
    return Contact.objects.filter(is_test=True, simulator__plan=plan, simulator__user=user).first()


def simulator_contact(*, plan: Plan, user) -> Contact:
    """The user's test contact for `plan`, created on first use."""
    contact = _lookup(plan=plan, user=user)
    if contact is not None:
        return contact
    for area in SIMULATOR_AREA_CODES:
        prefix = f"+1{area}55501"
        taken = set(Contact.objects.filter(phone__startswith=prefix).values_list("phone", flat=True))
        for line in range(100):
            phone = f"{prefix}{line:02d}"
            if phone in taken:
                continue
            try:
                with transaction.atomic():
                    contact = Contact.objects.create(
                        phone=phone,
                        first_name="Test",
                        last_name=f"({user.get_username()})"[:100],
                        is_test=True,
                    )
                    SimulatorContact.objects.create(contact=contact, plan=plan, user=user)
                    return contact
            except IntegrityError:
                existing = _lookup(plan=plan, user=user)
                if existing is not None:  # a second tab of the same marketer made it meanwhile
                    return existing
                continue  # the number was taken meanwhile: try the next one
    raise ValidationError("Every simulator number is in use: reset some test contacts.")


def simulator_revision(*, plan: Plan):
    """What the simulator tries: the plan's draft, else its published revision."""
    return plan.revisions.filter(published_at__isnull=True).first() or plan.published


def _choices(*, plan: Plan, user) -> dict[str, str]:
    record = SimulatorContact.objects.filter(plan=plan, user=user).values_list("branches", flat=True).first()
    return dict(record or {})


def simulator_state(*, plan: Plan, user) -> SimulatorState:
    contact = _lookup(plan=plan, user=user)
    enrollment = None
    if contact is not None:
        enrollment = (
            Enrollment.objects.filter(contact=contact, plan=plan).order_by("-enrolled_at", "-id").first()
        )
    revision = simulator_revision(plan=plan)
    chosen = _choices(plan=plan, user=user)
    splits, event_types = (), ()
    if revision is not None:
        flow = revision_flow(revision.pk)
        event_types = tuple(
            sorted(
                {flow.entry.event} - {None}
                | {s.data["event"] for s in flow.steps.values() if s.type == "wait_event"}
                | {g.event for g in flow.goals.values() if g.event}
            )
        )
        splits = tuple(
            SimulatorSplit(
                step_id=step.id,
                name=step.name,
                branches=tuple(b["name"] for b in step.data["branches"]),
                chosen=chosen.get(step.id, ""),
            )
            for step in flow.steps.values()
            if step.type == "split_random"
        )
    return SimulatorState(contact=contact, enrollment=enrollment, splits=splits, event_types=event_types)


def simulator_branches_set(*, plan: Plan, user, choices: dict[str, str]) -> dict[str, str]:
    """Remember the branch to take at each A/B split ("" lets it draw) for the user's test
    contact: from its next enrollment, and in its current one at the splits it has not
    passed yet. Unknown splits or branches are ignored. Returns what is kept."""
    from automation.models import EnrollmentStep

    splits = {s.step_id: s for s in simulator_state(plan=plan, user=user).splits}
    kept = {
        step_id: name
        for step_id, name in choices.items()
        if step_id in splits and name in splits[step_id].branches
    }
    contact = simulator_contact(plan=plan, user=user)
    SimulatorContact.objects.filter(contact=contact).update(branches=kept)
    enrollment = Enrollment.objects.filter(contact=contact, plan=plan, status=EnrollmentStatus.ACTIVE).first()
    if enrollment is not None:
        passed = set(
            EnrollmentStep.objects.filter(enrollment=enrollment, step_id__in=list(splits)).values_list(
                "step_id", flat=True
            )
        )
        branches = {k: v for k, v in (enrollment.branches or {}).items() if k in passed} | {
            k: v for k, v in kept.items() if k not in passed
        }
        Enrollment.objects.filter(pk=enrollment.pk).update(branches=branches)
    return kept


def simulator_fast_forward(*, plan: Plan, user) -> str:
    """Fire the test enrollment's timer now; what happened, in words."""
    from automation.services.scheduling import enrollment_timer_fast_forward

    state = simulator_state(plan=plan, user=user)
    if state.timer_at is None:
        return "Nothing is waiting for time to pass."
    at = state.state_name
    if enrollment_timer_fast_forward(enrollment_id=state.enrollment.pk):
        return f"Skipped the wait at “{at}”."
    return f"The wait at “{at}” is over: nothing comes after it."


def simulator_send(*, plan: Plan, user, text: str) -> SimulatorTurn:
    """Send `text` to the plan as the user's test contact; return what came back.
    Raises ValidationError (nothing stored) when a non-active plan cannot enroll anyone."""
    from automation.matching import reply_normalize
    from automation.services.interpreter import enrollment_start
    from contacts.compliance import HELP_KEYWORDS, OPT_IN_KEYWORDS, OPT_OUT_KEYWORDS

    text = (text or "")[:MAX_MESSAGE_LENGTH]
    contact = simulator_contact(plan=plan, user=user)
    started = timezone.now()
    sid = f"SMsim{uuid.uuid4().hex[:29]}"
    note = ""
    normalized = reply_normalize(text)
    compliance = normalized in OPT_OUT_KEYWORDS | HELP_KEYWORDS | OPT_IN_KEYWORDS
    enrolled = Enrollment.objects.filter(contact=contact, plan=plan, status=EnrollmentStatus.ACTIVE).exists()
    choices = _choices(plan=plan, user=user)
    has_draft = plan.revisions.filter(published_at__isnull=True).exists()
    direct = plan.status != Plan.Status.ACTIVE or has_draft or bool(choices)

    if direct and not enrolled and not compliance and not contact.opted_out:
        with transaction.atomic():
            contact = contact_lock(contact_id=contact.pk)
            now = timezone.now()
            # Routed here and now (it enrolls): the engine must not take it again as a
            # reply when the contact's next message claims the ones still waiting.
            sent = Interaction.objects.create(
                contact=contact,
                direction=Interaction.Direction.INBOUND,
                body=text,
                provider_sid=sid,
                raw_payload={"simulator": True},
                created_at=now,
                routed_at=now,
            )
            contact.last_inbound_at = sent.created_at
            contact.save(update_fields=["last_inbound_at", "updated_at"])
            revision = simulator_revision(plan=plan)
            if revision is None:  # nothing of this message is kept
                raise ValidationError(f"{plan.name} cannot enroll anyone yet: it has no revision.")
            enrollment_start(
                contact=contact, plan_id=plan.pk, revision_id=revision.pk, interaction=sent, branches=choices
            )
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
            "From": contact.phone,
            "To": settings.TWILIO_FROM_NUMBER or "+15005550006",
            "Body": text,
            "NumMedia": "0",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        # Routed here, whatever the broker: the marketer waits for the answer on this page.
        accepted = inbound_message_receive(payload=payload)
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
    replies = list(
        Interaction.objects.filter(
            contact=contact, direction=Interaction.Direction.OUTBOUND, created_at__gte=started
        ).order_by("created_at", "id")
    )
    return SimulatorTurn(sent=sent, replies=replies, state=state, note=note)


def simulator_event(*, plan: Plan, user, type: str, value: Decimal | None = None) -> SimulatorTurn:
    """The user's test contact does something elsewhere: an event of `type` (CONTRACT §7, as
    a shop would post it) moves its journey. When the test contact is not in the plan yet
    and the plan is entered by this event, it is enrolled directly at what the simulator
    tries (as a first message would be); a real contact enters only with marketing consent
    on record, and the note says so. Raises ValidationError for a type that is none."""
    from automation.services.events import event_receive
    from automation.services.interpreter import enrollment_start
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
        with transaction.atomic():
            contact = contact_lock(contact_id=contact.pk)
            sent, _ = event_store(contact=contact, event=event, now=started)
            enrollment_start(
                contact=contact,
                plan_id=plan.pk,
                revision_id=revision.pk,
                interaction=sent,
                now=started,
                branches=_choices(plan=plan, user=user),
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
    replies = list(
        Interaction.objects.filter(
            contact=contact, direction=Interaction.Direction.OUTBOUND, created_at__gte=started
        ).order_by("created_at", "id")
    )
    return SimulatorTurn(sent=sent, replies=replies, state=state, note=note)


def simulator_reset(*, plan: Plan, user) -> bool:
    """Delete the user's test contact for `plan` and everything it did (messages,
    enrollments, steps, goals, consent). Only a contact the simulator made (its
    ``SimulatorContact`` row) is ever deleted. False when there was nothing to reset."""
    with transaction.atomic():
        record = (
            SimulatorContact.objects.select_for_update()
            .select_related("contact")
            .filter(plan=plan, user=user, contact__is_test=True)
            .first()
        )
        if record is None:
            return False
        record.contact.delete()  # the record goes with it (CASCADE)
    return True


# --- simulate_sms: one message, nothing kept -----------------------------------------


@dataclass(frozen=True)
class SimulatedReply:
    body: str
    purpose: str
    status: str  # queued (would be sent now) or held (quiet hours)
    send_after: object = None


def simulator_message_run(*, phone: str, body: str) -> list[SimulatedReply]:
    """Run the inbound pipeline for one message from `phone` (E.164) and return what the
    contact would be sent back. Everything happens in a transaction that is rolled back:
    nothing is stored, and the sends (queued on commit) never run."""
    message = InboundMessage(
        sid=f"SIMULATED{uuid.uuid4().hex}",
        phone=phone,
        body=body,
        media=[],
        raw={"Body": body},
        from_address=phone,
    )
    with transaction.atomic():
        contact_insert_if_new(phone=phone)
        interaction_id = inbound_message_store(message=message, created_at=timezone.now())
        result = inbound_message_route(interaction_id=interaction_id)
        replies = [
            SimulatedReply(
                body=o.interaction.body, purpose=o.purpose, status=o.status, send_after=o.send_after
            )
            for o in OutboundMessage.objects.filter(
                contact=result.contact, interaction_id__gt=result.interaction.pk
            )
            .select_related("interaction")
            .order_by("pk")
        ]
        transaction.set_rollback(True)
    return replies
