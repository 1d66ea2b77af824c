"""The simulator's test contacts and what the page shows of them: the contact, its state in
the plan, the A/B choices, skipping a wait, resetting."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from automation.engine.revisions import revision_flow
from automation.flow import Flow
from automation.flow.whatsapp import whatsapp_template_of
from automation.models import Enrollment, EnrollmentStatus, Plan, SimulatorContact
from contacts.models import Contact
from messaging.channels import (
    CODE_OUTSIDE_WINDOW,
    SMS,
    WHATSAPP,
    WHATSAPP_WINDOW,
    address_channel,
    channel_address,
    whatsapp_window_open,
)
from messaging.models import Sender
from tracking.models import Interaction

# Fictional lines 555-0100…555-0199 in a few area codes: 100 test contacts per area code.
SIMULATOR_AREA_CODES = ("202", "212", "213", "305", "312", "415", "512", "617", "702", "818")
MAX_MESSAGE_LENGTH = 1600


@dataclass(frozen=True)
class SimulatorSplit:
    step_id: str
    name: str
    branches: tuple[str, ...]
    chosen: str  # "" = let it draw


@dataclass(frozen=True)
class SimulatorWindow:
    """WhatsApp's 24-hour window for the test contact (docs/reference.md §8): whether free
    text may go now, until when, and what each step that texts sends outside it."""

    open: bool
    last_at: datetime | None  # the test contact's last WhatsApp message
    until: datetime | None  # when the window closes (None: it is closed)
    outside: tuple[tuple[str, str], ...]  # (step name, its template's Content SID or "")
    failed_code: str = CODE_OUTSIDE_WINDOW


@dataclass
class SimulatorState:
    contact: Contact | None
    enrollment: Enrollment | None  # the latest enrollment of the test contact in the plan
    splits: tuple[SimulatorSplit, ...] = ()
    event_types: tuple[str, ...] = ()  # the events the plan enters on, waits for, or counts
    channel: str = SMS  # what the test contact texts on: as it last did, else as the plan's sender
    sender: str = ""  # the address it texts to
    window: SimulatorWindow | None = None  # on WhatsApp

    @property
    def waits_for(self) -> str:
        """The event type the step the test contact is at waits for ("" when none)."""
        if self.enrollment is None or self.enrollment.status != EnrollmentStatus.ACTIVE:
            return ""
        step = revision_flow(self.enrollment.revision_id).steps.get(self.enrollment.step_id)
        return (step.kind.awaited_event(step.data) or "") if step is not None else ""

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


def simulator_contact_find(*, plan: Plan, user) -> Contact | None:
    return Contact.objects.filter(is_test=True, simulator__plan=plan, simulator__user=user).first()


def simulator_contact(*, plan: Plan, user) -> Contact:
    """The user's test contact for `plan`, created on first use."""
    contact = simulator_contact_find(plan=plan, user=user)
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
                existing = simulator_contact_find(plan=plan, user=user)
                if existing is not None:  # a second tab of the same marketer made it meanwhile
                    return existing
                continue  # the number was taken meanwhile: try the next one
    raise ValidationError("Every simulator number is in use: reset some test contacts.")


def simulator_revision(*, plan: Plan):
    """What the simulator tries: the plan's draft, else its published revision."""
    return plan.revisions.filter(published_at__isnull=True).first() or plan.published


def simulator_choices(*, plan: Plan, user) -> dict[str, str]:
    record = SimulatorContact.objects.filter(plan=plan, user=user).values_list("branches", flat=True).first()
    return dict(record or {})


def simulator_sender(*, flow: Flow | None, channel: str) -> str:
    """The address the test contact texts to on `channel`: the plan's entry sender when it
    is on that channel, else a kept sender of that channel (WhatsApp), else the default."""
    bound = flow.entry.sender if flow is not None else None
    if bound and address_channel(bound) == channel:
        return bound
    default = settings.TWILIO_FROM_NUMBER or "+15005550006"
    if channel == WHATSAPP:
        kept = Sender.objects.filter(kind=Sender.Kind.WHATSAPP).values_list("address", flat=True).first()
        return kept or channel_address(channel=WHATSAPP, number=default)
    return default


def simulator_window(*, contact: Contact | None, flow: Flow | None, now: datetime) -> SimulatorWindow:
    """The test contact's WhatsApp window now, and what the plan's texting steps send
    outside it: their template, or nothing (the text fails with 63016)."""
    last_at = None
    if contact is not None:
        last_at = (
            Interaction.objects.filter(
                contact=contact, direction=Interaction.Direction.INBOUND, channel=Interaction.Channel.WHATSAPP
            )
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
    is_open = whatsapp_window_open(last_whatsapp_at=last_at, now=now)
    outside = ()
    if flow is not None:
        outside = tuple(
            (step.name, (whatsapp_template_of(step.data) or {}).get("content_sid") or "")
            for step in (flow.steps[i] for i in flow.order)
            if step.kind.prompt(step.data)
        )
    return SimulatorWindow(
        open=is_open, last_at=last_at, until=last_at + WHATSAPP_WINDOW if is_open else None, outside=outside
    )


def simulator_state(*, plan: Plan, user) -> SimulatorState:
    contact = simulator_contact_find(plan=plan, user=user)
    enrollment = None
    if contact is not None:
        enrollment = (
            Enrollment.objects.filter(contact=contact, plan=plan).order_by("-enrolled_at", "-id").first()
        )
    revision = simulator_revision(plan=plan)
    chosen = simulator_choices(plan=plan, user=user)
    splits, event_types = (), ()
    flow = revision_flow(revision.pk) if revision is not None else None
    if flow is not None:
        events = {flow.entry.event, *(s.kind.awaited_event(s.data) for s in flow.steps.values())}
        events |= {g.event for g in flow.goals.values()}
        event_types = tuple(sorted(events - {None, ""}))
        drawn = ((step, step.kind.branches(step.data)) for step in flow.steps.values())
        splits = tuple(
            SimulatorSplit(
                step_id=step.id,
                name=step.name,
                branches=tuple(name for name, _ in branches),
                chosen=chosen.get(step.id, ""),
            )
            for step, branches in drawn
            if branches
        )
    channel = _last_channel(contact) or (address_channel(flow.entry.sender or "") if flow else SMS)
    window = simulator_window(contact=contact, flow=flow, now=timezone.now()) if channel == WHATSAPP else None
    return SimulatorState(
        contact=contact,
        enrollment=enrollment,
        splits=splits,
        event_types=event_types,
        channel=channel,
        sender=simulator_sender(flow=flow, channel=channel),
        window=window,
    )


def _last_channel(contact: Contact | None) -> str | None:
    """The channel of the test contact's last message (None: it wrote none)."""
    if contact is None:
        return None
    return (
        Interaction.objects.filter(contact=contact, direction=Interaction.Direction.INBOUND)
        .exclude(channel=Interaction.Channel.API)
        .order_by("-created_at", "-id")
        .values_list("channel", flat=True)
        .first()
    )


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
    from automation.engine.scheduling import enrollment_timer_fast_forward

    state = simulator_state(plan=plan, user=user)
    if state.timer_at is None:
        return "Nothing is waiting for time to pass."
    at = state.state_name
    if enrollment_timer_fast_forward(enrollment_id=state.enrollment.pk):
        return f"Skipped the wait at “{at}”."
    return f"The wait at “{at}” is over: nothing comes after it."


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
