"""Queueing outbound messages, handing them over to be sent, and canceling unsent ones (the
release job: messaging.services.release)."""

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from contacts.models import Contact
from infra import background
from infra.background import eager, task_enqueue
from infra.metrics import OUTBOUND, metric_count, reply_clock_take
from messaging.channels import CODE_OUTSIDE_WINDOW, WHATSAPP, channel_address
from messaging.frequency import frequency_cap_parse, frequency_cap_release_at
from messaging.models import DeliveryStatus, Lane, OutboundMessage, Sender
from messaging.rendering import MAX_RENDERED_LENGTH, RenderError, sms_body_render
from messaging.segments import message_segments
from messaging.senders import sender_channel, sender_default, sender_rate
from messaging.services.dispatch import sender_wake
from messaging.services.policy import (
    ALWAYS_ALLOWED_PURPOSES,
    contact_state,
    contact_tz,
    eager_pause,
    send_priority,
)
from messaging.services.whatsapp import OUTSIDE_WINDOW, free_text_allowed, whatsapp_template_render
from messaging.state_hours import sending_hours_release_at
from tracking.models import Interaction
from tracking.services.links import LinkPlan, links_record, links_shorten

logger = logging.getLogger(__name__)

# --- queue ----------------------------------------------------------------------------


def outbound_queue(
    *,
    contact: Contact,
    body: str,
    purpose: str,
    answers_contact: bool,
    enrollment=None,
    step_id: str = "",
    media_urls: tuple[str, ...] = (),
    track_links: bool = False,
    sender: Sender | None = None,
    content_sid: str = "",
    content_variables: dict | None = None,
) -> OutboundMessage | None:
    """Inside the caller's transaction: record an outbound Interaction + OutboundMessage
    (held for quiet hours when it does not answer the contact) and send it on commit.
    Returns None when nothing may be sent: the contact opted out (except help and the
    opt-out confirmation), or the loop guard tripped. `track_links`: its URLs are sent as
    tracked links (docs/reference.md §7; needs PUBLIC_BASE_URL). `sender` (None: the
    default) sets its channel; over WhatsApp after the 24-hour window it goes as the template
    `content_sid`, else it is recorded ``failed`` (63016) and never sent (docs/reference.md §8)."""
    if contact.opted_out and purpose not in ALWAYS_ALLOWED_PURPOSES:
        logger.info("not queued: contact %s is opted out (purpose %s)", contact.pk, purpose)
        return None
    now = timezone.now()

    if _same_text_queued(contact=contact, body=body, now=now) >= settings.SMS_LOOP_GUARD_MAX:
        logger.warning(
            "loop guard: not queued for contact %s, the same text went %d times in %d min",
            contact.pk,
            settings.SMS_LOOP_GUARD_MAX,
            settings.SMS_LOOP_GUARD_MINUTES,
        )
        return None

    status, send_after, hold_reason = DeliveryStatus.QUEUED, now, ""
    if not answers_contact:
        send_after, hold_reason = outbound_send_time(contact=contact, now=now)
        if send_after > now:
            status = DeliveryStatus.HELD

    # WhatsApp after the 24-hour window, without a template (docs/reference.md §8). A template
    # is kept either way: the text goes as free text or as the template, decided when sent.
    refused = not content_sid and not free_text_allowed(
        channel=sender_channel(sender), contact_id=contact.pk, at=send_after
    )
    if refused:
        status = DeliveryStatus.FAILED

    links = text_links_shorten(body) if track_links and not refused else None
    outbound = _outbound_record(
        contact=contact,
        body=links.body if links else body,
        written=body if links else "",
        purpose=purpose,
        answers_contact=answers_contact,
        enrollment=enrollment,
        step_id=step_id,
        media_urls=media_urls,
        status=status,
        send_after=send_after,
        hold_reason=hold_reason,
        now=now,
        sender=sender,
        content_sid=content_sid,
        content_variables=content_variables,
        error_code=CODE_OUTSIDE_WINDOW if refused else "",
        error_message=OUTSIDE_WINDOW if refused else "",
        # The first text answering the message being routed starts the reply clock (/metrics).
        reply_to_at=reply_clock_take() if answers_contact and status == DeliveryStatus.QUEUED else None,
    )
    if refused:
        metric_count(OUTBOUND, "failed")
    if links:
        links_record(plan=links, interaction=outbound.interaction, contact=contact, enrollment=enrollment)
    if status == DeliveryStatus.QUEUED:
        outbound_id, sender_id = outbound.pk, outbound.sender_id
        transaction.on_commit(
            lambda: outbound_enqueue(
                outbound_id=outbound_id, answers_contact=answers_contact, sender_id=sender_id
            )
        )
    return outbound


def outbound_render_queue(
    *,
    template: str,
    context: dict,
    contact: Contact,
    purpose: str,
    answers_contact: bool,
    enrollment=None,
    step_id: str = "",
    media_urls: tuple[str, ...] = (),
    track_links: bool = False,
    sender: Sender | None = None,
    whatsapp_template: Mapping[str, Any] | None = None,
) -> OutboundMessage | None:
    """Render a marketer's text (and over WhatsApp its `whatsapp_template`'s variables) over
    the plain `context` and queue it (``outbound_queue``).

    A text that does not render (or renders past the length cap) fails that one message:
    it is recorded as ``failed`` with the reason on the contact's timeline, and nothing
    is sent. A text that renders empty (and has no media) sends nothing."""
    content_sid, content_variables = "", None
    try:
        body = sms_body_render(template=template, context=context)
        if whatsapp_template and sender_channel(sender) == WHATSAPP:
            content_sid, content_variables = whatsapp_template_render(
                template=whatsapp_template, context=context
            )
    except RenderError as exc:
        logger.warning("contact %s: a %s text does not render: %s", contact.pk, purpose, exc)
        metric_count(OUTBOUND, "failed")
        return _outbound_record(  # failed: on the timeline with the reason, never sent
            contact=contact, body="", purpose=purpose, answers_contact=answers_contact,
            enrollment=enrollment, step_id=step_id, media_urls=media_urls,
            status=DeliveryStatus.FAILED, now=timezone.now(), error_message=str(exc), sender=sender,
        )  # fmt: skip
    if not body and not media_urls:
        return None
    return outbound_queue(
        contact=contact,
        body=body,
        purpose=purpose,
        answers_contact=answers_contact,
        enrollment=enrollment,
        step_id=step_id,
        media_urls=media_urls,
        track_links=track_links,
        sender=sender,
        content_sid=content_sid,
        content_variables=content_variables,
    )


def links_untracked_reason() -> str:
    """Why a plan's links cannot be tracked on this installation, in a marketer's words;
    empty when they can. The plan page, the text preview and the report say it."""
    if settings.PUBLIC_BASE_URL:
        return ""
    return (
        "Links cannot be tracked here: PUBLIC_BASE_URL is not set, so there is no public "
        "address for people's clicks to come back to. Links go out as written and no click "
        "is counted."
    )


def text_links_shorten(body: str) -> LinkPlan | None:
    """The text with tracked links, when it has URLs and there is a public address to send
    people to; None to send it as written (also when the short links would make it longer
    than one message may be). The text preview shows what this decides."""
    base = settings.PUBLIC_BASE_URL
    if not base or "://" not in body:
        return None
    plan = links_shorten(body=body, base_url=base)
    if not plan.links:
        return None
    if len(plan.body) > MAX_RENDERED_LENGTH:
        logger.warning("links not tracked: the text would grow past %d characters", MAX_RENDERED_LENGTH)
        return None
    return plan


def _outbound_record(
    *,
    contact: Contact,
    body: str,
    purpose: str,
    answers_contact: bool,
    enrollment,
    step_id: str,
    media_urls: tuple[str, ...],
    status: str,
    now,
    send_after=None,
    error_message: str = "",
    hold_reason: str = "",
    written: str = "",
    sender: Sender | None = None,
    content_sid: str = "",
    content_variables: dict | None = None,
    error_code: str = "",
    reply_to_at: datetime | None = None,
) -> OutboundMessage:
    """The two rows of one outbound message: its Interaction (the timeline's) and its
    OutboundMessage (delivery), addresses as Twilio knows them (`sender` None: the default,
    whose row, its limit, is used when an operator added one). `written`: the text as the
    plan wrote it, when its links were swapped for tracked ones (the loop guard compares
    that)."""
    sender = sender or sender_default()
    channel = sender_channel(sender)
    to_address = channel_address(channel=channel, number=contact.phone)
    default = settings.TWILIO_FROM_NUMBER or settings.TWILIO_MESSAGING_SERVICE_SID
    lane = Lane.REPLY if answers_contact else Lane.CAMPAIGN
    if lane == Lane.REPLY and status == DeliveryStatus.QUEUED:
        # The contact's own older texts still waiting go ahead with it (their order holds).
        OutboundMessage.objects.filter(
            contact=contact, status=DeliveryStatus.QUEUED, lane=Lane.CAMPAIGN
        ).update(lane=Lane.REPLY)
    interaction = Interaction.objects.create(
        contact=contact,
        channel=channel,
        direction=Interaction.Direction.OUTBOUND,
        from_address=sender.address if sender else default,
        to_address=to_address,
        body=body,
        media=[{"url": url, "content_type": ""} for url in media_urls],
        enrollment=enrollment,
        raw_payload={"written": written} if written else {},
        created_at=now,
    )
    return OutboundMessage.objects.create(
        interaction=interaction,
        contact=contact,
        enrollment=enrollment,
        step_id=step_id,
        purpose=purpose,
        to_number=to_address,
        from_number=sender.address if sender else settings.TWILIO_FROM_NUMBER,
        sender=sender,
        lane=lane,
        segments=message_segments(body=body, media=bool(media_urls), channel=channel),
        content_sid=content_sid,
        content_variables=content_variables or {},
        media_urls=media_urls,
        answers_contact=answers_contact,
        status=status,
        send_after=send_after,
        hold_reason=hold_reason[:200],
        error_code=error_code,
        error_message=error_message[:2000],
        status_updated_at=now,
        reply_to_at=reply_to_at,
    )


def outbound_send_time(*, contact: Contact, now: datetime) -> tuple[datetime, str]:
    """When a message that does not answer the contact may go, and why it waits ("" when it
    may go now): the frequency cap (SMS_FREQUENCY_CAP), then the first minute that is
    outside quiet hours (SMS_QUIET_HOURS) and inside the hours of the contact's US state
    (SMS_STATE_HOURS), both in the contact's time."""
    at, reasons = now, []
    cap = frequency_cap_parse(settings.SMS_FREQUENCY_CAP)
    if cap is not None:
        capped = frequency_cap_release_at(now=now, planned=_counted_times(contact, now, cap.window), cap=cap)
        if capped is not None:
            at = capped
            reasons.append(f"frequency cap: {cap}")
    state = contact_state(contact) if settings.SMS_STATE_HOURS else None
    at, more = sending_hours_release_at(
        now=at, tz_name=contact_tz(contact), quiet_window=settings.SMS_QUIET_HOURS, state=state
    )
    return at, "; ".join(reasons + more)


def _counted_times(contact: Contact, now: datetime, window) -> list[datetime]:
    """When the contact's messages that count against the cap went or will go: those that do
    not answer them, sent within the window or still planned (not canceled or failed)."""
    return list(
        OutboundMessage.objects.filter(contact=contact, answers_contact=False)
        .exclude(status__in=[DeliveryStatus.CANCELED, DeliveryStatus.FAILED])
        .annotate(at=Coalesce("sent_at", "send_after", "created_at"))
        .filter(at__gt=now - window)
        .values_list("at", flat=True)
    )


def _same_text_queued(*, contact: Contact, body: str, now: datetime) -> int:
    """The loop guard's count: how many times this text went (or is going) to the contact
    within SMS_LOOP_GUARD_MINUTES — an auto-responder ping-pong, a plan that loops on
    itself. One indexed query on the contact's recent interactions (no join)."""
    # A text with links went out with tracked ones: compare it as written. (A text without
    # any cannot have been rewritten: the plain comparison is enough, and cheaper.)
    same = Q(body=body) | Q(raw_payload__written=body) if "://" in body else Q(body=body)
    return Interaction.objects.filter(
        same,
        contact=contact,
        direction=Interaction.Direction.OUTBOUND,
        created_at__gte=now - timedelta(minutes=settings.SMS_LOOP_GUARD_MINUTES),
    ).count()


_UNKNOWN = object()


def outbound_enqueue(
    *, outbound_id: int, force: bool = False, answers_contact: bool = True, sender_id=_UNKNOWN
) -> None:
    """Hand one queued message over to be sent. A paced sender's message: its dispatcher is
    woken (messaging.services.dispatch: the lanes, the limiter). Otherwise a send task takes
    it — on a worker when a broker is configured (a reply at a higher priority than plan
    and bulk messages), else on this process's in-process scheduler when it runs (off the
    request path), else right here (one short try; skipped for a while after a failure
    unless `force`). Either way it goes only in its contact's turn. Never raises: whatever
    is not sent now, the release job sends later. `sender_id`: the message's, when the
    caller knows it (one query less a message)."""
    from celery import current_app

    try:
        if sender_id is _UNKNOWN:
            sender_id = (
                OutboundMessage.objects.filter(pk=outbound_id).values_list("sender_id", flat=True).first()
            )
        if sender_rate(sender_id=sender_id):
            sender_wake(sender_id=sender_id, force=force)
            return
        if eager() and not background.running() and not force and eager_pause.active():
            logger.info("outbound %s left queued: sending is paused after a recent failure", outbound_id)
            return
        # The send task is the orchestrating layer's (it acts on the outcome): wired by name
        # in the settings, so that messaging imports no higher app.
        task = current_app.tasks[settings.OUTBOUND_SEND_TASK]
        task_enqueue(task, args=(outbound_id,), priority=send_priority(answers_contact))
    except Exception:
        logger.exception("outbound %s not handed over now; the release job will send it", outbound_id)


# --- cancel -------------------------------------------------------------------------------


def outbound_cancel_unsent(
    *,
    reason: str,
    contact: Contact | None = None,
    enrollment=None,
    statuses: tuple[str, ...] = (DeliveryStatus.HELD, DeliveryStatus.QUEUED),
    handed: bool = True,
) -> int:
    """Cancel a contact's (or an enrollment's) messages not handed to the provider yet:
    they never go — with `handed`, also those a dispatcher handed to a send task that has
    not taken them (``sending`` with a lease). A message whose call to Twilio has begun is
    not stopped here; the send-time opt-out check and the claim see to the rest. Returns
    how many."""
    if contact is None and enrollment is None:
        raise ValueError("Say whose messages to cancel.")
    waiting = Q(status__in=statuses)
    if handed:
        waiting |= Q(status=DeliveryStatus.SENDING, lease_until__isnull=False)
    messages = OutboundMessage.objects.filter(waiting)
    if contact is not None:
        messages = messages.filter(contact=contact)
    if enrollment is not None:
        messages = messages.filter(enrollment=enrollment)
    return messages.update(
        status=DeliveryStatus.CANCELED,
        lease_until=None,
        status_updated_at=timezone.now(),
        error_message=reason[:2000],
    )
