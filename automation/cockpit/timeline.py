"""A contact's timeline: the conversation (chat bubbles) interleaved with enrollments,
state changes, goals, consent events and events from other systems, oldest first.

Six queries whatever the history's length (the messages' tracked links are one); each
source is capped at the latest `limit` rows and the merged list keeps the latest `limit`
entries.
"""

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import Prefetch

from automation.cockpit.media import MediaShown, media_shown
from automation.engine.revisions import step_name
from automation.models import Enrollment, EnrollmentStep
from contacts.models import ConsentEvent, Contact
from messaging.services.policy import contact_tz
from tracking.models import LINK_CLICK, GoalConversion, Interaction, TrackedLink
from tracking.services import event_data

# Entries at the same instant read in cause-and-effect order.
_ORDER = {
    "inbound": 0,
    "event": 0,
    "consent": 1,
    "enrolled": 2,
    "step": 3,
    "goal": 4,
    "outbound": 5,
    "ended": 6,
}
_STEP_VIAS = {
    EnrollmentStep.Via.REPLY,
    EnrollmentStep.Via.TIMEOUT,
    EnrollmentStep.Via.EVENT,
    EnrollmentStep.Via.HTTP,
    EnrollmentStep.Via.STEP,
}


@dataclass
class TimelineEntry:
    at: datetime
    kind: str  # inbound | outbound | event | enrolled | step | goal | ended | consent
    title: str
    body: str = ""
    status: str = ""  # outbound: the latest delivery status
    status_label: str = ""
    detail: str = ""
    pk: int = 0
    via: str = ""  # a message: its channel and our sender (to / from which address)
    media: list[MediaShown] = field(default_factory=list)  # a message's (MMS, WhatsApp)

    @property
    def is_message(self) -> bool:
        return self.kind in ("inbound", "outbound")


@dataclass
class Timeline:
    entries: list[TimelineEntry] = field(default_factory=list)
    truncated: bool = False


def contact_timeline(*, contact: Contact, limit: int = 300) -> Timeline:
    entries: list[TimelineEntry] = []
    truncated = False

    interactions = list(
        Interaction.objects.filter(contact=contact)
        .select_related("outbound")
        .prefetch_related(Prefetch("links", queryset=TrackedLink.objects.order_by("id")))
        .order_by("-created_at", "-id")[: limit + 1]
    )
    truncated |= len(interactions) > limit
    zone = contact_tz(contact)
    for message in interactions[:limit]:
        if message.channel == Interaction.Channel.API:
            entries.append(_event_entry(message))
            continue
        if message.direction == Interaction.Direction.INBOUND:
            entries.append(
                TimelineEntry(
                    at=message.created_at,
                    kind="inbound",
                    title="Received",
                    body=message.body,
                    pk=message.pk,
                    via=_via(message),
                    media=media_shown(message.media),
                )
            )
            continue
        outbound = getattr(message, "outbound", None)
        entries.append(
            TimelineEntry(
                at=message.created_at,
                kind="outbound",
                title=outbound.get_purpose_display() if outbound else "Sent",
                body=message.body,
                status=outbound.status if outbound else "",
                status_label=outbound.get_status_display() if outbound else "",
                detail=" · ".join(filter(None, [_outbound_detail(outbound, zone), *_links_said(message)])),
                pk=message.pk,
                via=_via(message),
                media=media_shown(message.media),
            )
        )

    enrollments = list(
        Enrollment.objects.filter(contact=contact)
        .select_related("plan")
        .order_by("-enrolled_at")[: limit + 1]
    )
    truncated |= len(enrollments) > limit
    for enrollment in enrollments[:limit]:
        entries.append(
            TimelineEntry(
                at=enrollment.enrolled_at, kind="enrolled", title=f"Enrolled in {enrollment.plan.name}"
            )
        )
        if enrollment.ended_at:
            entries.append(
                TimelineEntry(
                    at=enrollment.ended_at,
                    kind="ended",
                    title=f"{enrollment.plan.name}: {enrollment.get_status_display().lower()}",
                    status=enrollment.status,
                    detail=enrollment.end_reason,
                )
            )

    steps = list(
        EnrollmentStep.objects.filter(enrollment__contact=contact)
        .select_related("enrollment__plan")
        .order_by("-occurred_at", "-id")[: limit + 1]
    )
    truncated |= len(steps) > limit
    for step in steps[:limit]:
        state = step_name(revision_id=step.enrollment.revision_id, step_id=step.step_id)
        if step.via == EnrollmentStep.Via.ENROLL:
            title = f"{step.enrollment.plan.name}: starts in {state}"
        elif step.via in _STEP_VIAS:
            title = f"{step.enrollment.plan.name}: → {state}"
        else:
            continue  # the end of an enrollment is shown from the enrollment itself
        if step.detail:  # what the step did (a field it set, the branch it took)
            title += f" ({step.detail})"
        entries.append(
            TimelineEntry(
                at=step.occurred_at, kind="step", title=title, detail=step.get_via_display(), pk=step.pk
            )
        )

    goals = list(
        GoalConversion.objects.filter(contact=contact)
        .select_related("goal", "enrollment__plan")
        .order_by("-occurred_at", "-id")[: limit + 1]
    )
    truncated |= len(goals) > limit
    for conversion in goals[:limit]:
        where = f" in {conversion.enrollment.plan.name}" if conversion.enrollment_id else ""
        entries.append(
            TimelineEntry(
                at=conversion.occurred_at,
                kind="goal",
                title=f"Goal: {conversion.goal.name}{where}",
                detail=f"+{conversion.points} points"
                + (f" · value {conversion.value}" if conversion.value is not None else ""),
                pk=conversion.pk,
            )
        )

    consents = list(
        ConsentEvent.objects.filter(contact=contact)
        .select_related("actor")
        .order_by("-occurred_at", "-id")[: limit + 1]
    )
    truncated |= len(consents) > limit
    for event in consents[:limit]:
        name = event.actor_name or (event.actor.get_username() if event.actor_id else "")
        who = f" by {name}" if name else ""
        detail = f" ({event.detail})" if event.detail else ""
        entries.append(
            TimelineEntry(
                at=event.occurred_at,
                kind="consent",
                title=f"{event.get_kind_display()}",
                status=event.kind,
                detail=f"via {event.get_source_display().lower()}{detail}{who}",
                pk=event.pk,
            )
        )

    entries.sort(key=lambda e: (e.at, _ORDER[e.kind], e.pk))
    if len(entries) > limit:
        entries = entries[-limit:]
        truncated = True
    return Timeline(entries=entries, truncated=truncated)


def _outbound_detail(outbound, zone: str) -> str:
    """Why a message waits (held: until when in the contact's time, and the rule), or its
    error code."""
    if outbound is None:
        return ""
    if outbound.status == "held" and outbound.send_after:
        local = outbound.send_after.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
        until = f"held until {local} ({zone})"
        return until + (f": {outbound.hold_reason}" if outbound.hold_reason else "")
    said = f"error {outbound.error_code}" if outbound.error_code else ""
    if outbound.status == "failed" and outbound.error_message and outbound.sent_at is None:
        # Never handed to Twilio: the reason is ours (WhatsApp's window, a text that does not render).
        said = f"{said}: {outbound.error_message}" if said else outbound.error_message
    return said


def _via(message: Interaction) -> str:
    """Which of our senders the message went to or from (docs/reference.md §8), and its
    channel when it is not SMS."""
    address = (
        message.to_address if message.direction == Interaction.Direction.INBOUND else message.from_address
    )
    if not address:
        return ""
    said = f"{'to' if message.direction == Interaction.Direction.INBOUND else 'from'} {address}"
    return f"WhatsApp · {said}" if message.channel == Interaction.Channel.WHATSAPP else said


def _links_said(message: Interaction) -> list[str]:
    """An outbound message's tracked links: where each leads and how often it was opened."""
    return [f"{link.url} {_opened(link.clicks)}" for link in message.links.all()]


def _opened(clicks: int) -> str:
    return "not opened" if not clicks else "opened once" if clicks == 1 else f"opened {clicks} times"


def _event_entry(message: Interaction) -> TimelineEntry:
    """An event (docs/reference.md §7): its type, value and id."""
    url = event_data(message).get("url") if message.body == LINK_CLICK else None
    detail = " · ".join(
        part
        for part in (
            str(url) if url else "",
            f"value {message.value}" if message.value is not None else "",
            message.event_id or "",
        )
        if part
    )
    return TimelineEntry(
        at=message.created_at, kind="event", title=f"Event: {message.body}", detail=detail, pk=message.pk
    )
