"""Sending one message through the SMS backend: idempotent, retried, guarded."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from infra import background
from infra.logs import log_context_add
from infra.metrics import OUTBOUND, REPLY_SECONDS, metric_count, metric_observe, twilio_error_count
from messaging.backends import (
    LOCMEM_BACKEND,
    Outgoing,
    PermanentSendError,
    SendResult,
    TransientSendError,
    get_backend,
)
from messaging.channels import CODE_OUTSIDE_WINDOW, address_channel
from messaging.locks import outbound_lock
from messaging.models import STATUS_RANK, DeliveryStatus, OutboundMessage
from messaging.senders import sender_rate
from messaging.services.delivery import delivery_status_from_twilio
from messaging.services.dispatch import (
    contact_next_wake,
    outbound_claim,
    outbound_hand_over_later,
    outbound_take,
    sender_backing_off,
    sender_backoff,
    sender_send_now,
    sender_wake,
)
from messaging.services.policy import (
    ALWAYS_ALLOWED_PURPOSES,
    DUE_TOLERANCE,
    EAGER_SEND_TIMEOUT_SECONDS,
    MAX_ATTEMPTS,
    SEND_TIMEOUT_SECONDS,
    SLOW_DOWN_CODES,
    RetryLater,
    backoff_seconds,
    eager_pause,
    send_priority,
    status_callback_url,
)
from messaging.services.whatsapp import OUTSIDE_WINDOW, free_text_allowed, outbound_outside_window_fail
from tracking.models import Interaction

logger = logging.getLogger(__name__)

# --- send -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SendOutcome:
    """What one send did, for the layer that orchestrates (automation: a prompt that went
    out arms its reply timeout; a permanent failure ends the journey, and a 21610 opts the
    contact out). `retry`: a transient error left the message queued — it goes again then.
    Once it has acted on the outcome, the caller lets the contact's next text go
    (``contact_next_wake``): never before, so that an opt-out it records stops that text."""

    outbound_id: int
    contact_id: int
    enrollment_id: int | None
    purpose: str
    sent_at: datetime | None = None
    retry: RetryLater | None = None
    failed_code: str = ""
    failed_message: str = ""


def outbound_send(
    *, outbound_id: int, timeout: float | None = None, eager: bool = False
) -> SendOutcome | None:
    """Send one message through the SMS backend: one its sender's dispatcher handed over
    (messaging.services.dispatch), or a queued one of an unpaced sender, when it is its
    contact's turn. Idempotent. None when there was nothing to do (not its turn yet,
    canceled, taken by another task); whatever is left queued is woken again."""
    now = timezone.now()
    try:
        row = OutboundMessage.objects.values(*_SEND_FIELDS).get(pk=outbound_id)
    except OutboundMessage.DoesNotExist:
        logger.warning("outbound %s does not exist", outbound_id)
        return None
    log_context_add(
        contact_id=row["contact_id"], message_id=row["interaction_id"], enrollment_id=row["enrollment_id"]
    )
    handed = row["status"] == DeliveryStatus.SENDING and row["lease_until"] is not None
    if row["status"] != DeliveryStatus.QUEUED and not handed:
        logger.info("outbound %s is %s, not queued: nothing to do", outbound_id, row["status"])
        return None
    if row["contact__opted_out"] and row["purpose"] not in ALWAYS_ALLOWED_PURPOSES:
        OutboundMessage.objects.filter(
            Q(status=DeliveryStatus.QUEUED) | Q(status=DeliveryStatus.SENDING, lease_until__isnull=False),
            pk=outbound_id,
        ).update(
            status=DeliveryStatus.CANCELED,
            lease_until=None,
            error_message="Contact opted out before sending.",
            status_updated_at=now,
        )
        logger.info("outbound %s canceled: contact %s opted out", outbound_id, row["contact_id"])
        contact_next_wake(contact_id=row["contact_id"])
        return None
    # WhatsApp: free text only within 24 h of the contact's last WhatsApp message, checked again
    # now (a held text may be released after the window closed): else 63016, never sent.
    # Within it a text goes as written even when its step has a template.
    channel, contact_id = address_channel(row["to_number"]), row["contact_id"]
    free_text = free_text_allowed(channel=channel, contact_id=contact_id, at=now)
    if not row["content_sid"] and not free_text:
        if not outbound_outside_window_fail(outbound_id=outbound_id, now=now):
            return None
        return _outcome(row, failed_code=CODE_OUTSIDE_WINDOW, failed_message=OUTSIDE_WINDOW)

    # 1. Take it. Handed over by its dispatcher: clear the lease (once: a duplicated task
    # finds nothing). Queued (an unpaced sender's message, handed straight to this task):
    # claim it when it is due and its contact's oldest unsent one (one guarded UPDATE; an
    # opt-out committed meanwhile canceled the row, so it does not match either).
    if handed:
        if not outbound_take(outbound_id=outbound_id, now=now):
            logger.info("outbound %s was taken or requeued meanwhile: nothing to do", outbound_id)
            return None
    else:
        if row["send_after"] and row["send_after"] > now + DUE_TOLERANCE:
            sender_wake(sender_id=row["sender_id"], delay=(row["send_after"] - now).total_seconds())
            return None
        if sender_rate(sender_id=row["sender_id"]) or sender_backing_off(sender_id=row["sender_id"]):
            sender_wake(sender_id=row["sender_id"])  # its dispatcher hands it over, in time
            return None
        if not outbound_claim(outbound_id=outbound_id, now=now, lease_until=None):
            logger.info("outbound %s: not its contact's turn yet, or taken: nothing to do", outbound_id)
            return None

    # 2. The network call, with no transaction open — and, for a paced sender, only when
    # the limit allows it now: the dispatcher planned its slot, but a task that ran late
    # would bunch with the next one (checked as late as possible: what Twilio sees).
    # Everything the call needs is ready first (a process's first send builds its client).
    backend = (
        get_backend(LOCMEM_BACKEND)
        if row["contact__is_test"]
        else get_backend(timeout=timeout or (EAGER_SEND_TIMEOUT_SECONDS if eager else SEND_TIMEOUT_SECONDS))
    )
    message = Outgoing(
        to=row["to_number"],
        body=row["interaction__body"],
        media_urls=tuple(row["media_urls"] or ()),
        status_callback=status_callback_url(outbound_id),
        sender=row["sender__address"] or "",
        messaging_service_sid=row["sender__messaging_service_sid"] or "",
        content_sid="" if free_text else row["content_sid"],
        content_variables={} if free_text else (row["content_variables"] or {}),
    )
    wait = sender_send_now(sender_id=row["sender_id"], cost=row["segments"]) if handed else 0.0
    if wait:
        outbound_hand_over_later(outbound_id=outbound_id, delay=wait, lane=row["lane"])
        return None
    try:
        result = backend.send(message)
    except PermanentSendError as exc:
        if not _record_permanent(outbound_id=outbound_id, error=exc):
            return None
        return _outcome(row, failed_code=exc.code, failed_message=exc.message)
    except Exception as exc:  # TransientSendError, or a backend bug: retry, capped
        if not isinstance(exc, TransientSendError):
            logger.exception("outbound %s: unexpected backend error", outbound_id)
        if eager and not background.running():
            eager_pause.trip()  # sending inside requests: spare the next ones a dead API
        if getattr(exc, "code", "") in SLOW_DOWN_CODES:
            sender_backoff(sender_id=row["sender_id"], seconds=getattr(exc, "retry_after", None) or 1.0)
        retry = _record_transient(outbound_id=outbound_id, error=exc)
        if retry is None:  # failed for good (or Twilio had it after all): the next may go
            contact_next_wake(contact_id=row["contact_id"])
            return None
        return _outcome(row, retry=retry)

    # 3. The outcome; then the contact's next text may go.
    eager_pause.reset()  # the provider answers again
    sent_at = _record_sent(outbound_id=outbound_id, interaction_id=row["interaction_id"], result=result)
    metric_count(OUTBOUND, "sent")
    if row["reply_to_at"] is not None:  # the first text answering a contact's message
        metric_observe(REPLY_SECONDS, (sent_at - row["reply_to_at"]).total_seconds())
    return _outcome(row, sent_at=sent_at)


def _outcome(row: dict, **fields) -> SendOutcome:
    return SendOutcome(
        outbound_id=row["id"],
        contact_id=row["contact_id"],
        enrollment_id=row["enrollment_id"],
        purpose=row["purpose"],
        **fields,
    )


_SEND_FIELDS = (
    "id", "status", "send_after", "purpose", "to_number", "media_urls", "enrollment_id", "interaction_id",
    "contact_id", "interaction__body", "contact__opted_out", "contact__is_test", "answers_contact",
    "sender_id", "lease_until", "segments", "lane",
    "sender__address", "sender__messaging_service_sid", "content_sid", "content_variables", "reply_to_at",
)  # fmt: skip


def _record_sent(*, outbound_id: int, interaction_id: int, result: SendResult) -> datetime:
    now = timezone.now()
    with transaction.atomic():  # one commit for both rows
        try:
            with transaction.atomic():  # a savepoint: a failed statement must not break the rest
                Interaction.objects.filter(pk=interaction_id).update(provider_sid=result.sid)
        except IntegrityError:  # the provider reused a sid: keep the send, log the oddity
            logger.error("outbound %s: sid %s already belongs to another message", outbound_id, result.sid)
        fields = {"sent_at": now, "status_updated_at": now, "error_code": "", "error_message": ""}
        # What the provider answered: Twilio says "queued" or "accepted" (it has the message,
        # it has not sent it yet: never shown as sent); a local backend says "sent".
        status = delivery_status_from_twilio(result.status) or DeliveryStatus.ACCEPTED
        if STATUS_RANK[status] < STATUS_RANK[DeliveryStatus.ACCEPTED] or status == DeliveryStatus.CANCELED:
            status = DeliveryStatus.ACCEPTED
        # A status callback may already have moved the status on (matched by our id): only
        # SENDING moves on here; sent_at is kept either way.
        if not OutboundMessage.objects.filter(pk=outbound_id, status=DeliveryStatus.SENDING).update(
            status=status, **fields
        ):
            OutboundMessage.objects.filter(pk=outbound_id).update(**fields)
    logger.info("outbound %s handed to the provider as %s (%s)", outbound_id, result.sid, result.status)
    return now


def _record_transient(*, outbound_id: int, error: Exception) -> RetryLater | None:
    now = timezone.now()
    code = getattr(error, "code", "") or ""
    with transaction.atomic():
        outbound = outbound_lock(outbound_id=outbound_id)
        if outbound.status != DeliveryStatus.SENDING:
            return None  # a status callback showed Twilio accepted it after all
        outbound.error_code = str(code)[:16]
        outbound.error_message = str(error)[:2000] or type(error).__name__
        outbound.status_updated_at = now
        twilio_error_count(code)
        if outbound.attempts >= MAX_ATTEMPTS:
            outbound.fail()
            retry_in = None
            metric_count(OUTBOUND, "failed")
            logger.error("outbound %s failed after %d attempts: %s", outbound_id, outbound.attempts, error)
        else:
            outbound.retry_later()
            seconds = backoff_seconds(
                outbound.attempts,
                answers_contact=outbound.answers_contact,
                retry_after=getattr(error, "retry_after", None),
            )
            retry_in = RetryLater(seconds=seconds, priority=send_priority(outbound.answers_contact))
            metric_count(OUTBOUND, "retried")
            outbound.send_after = now + timedelta(seconds=seconds)
            logger.warning(
                "outbound %s: transient error (attempt %d), retry in %.1f s: %s",
                outbound_id,
                outbound.attempts,
                seconds,
                error,
            )
        outbound.save(
            update_fields=["status", "error_code", "error_message", "status_updated_at", "send_after"]
        )
    return retry_in


def _record_permanent(*, outbound_id: int, error: PermanentSendError) -> bool:
    """Record a permanent failure. What it means for the contact (a 21610: the number opted
    out at the carrier) is the orchestrator's (``automation.engine.sending``). False when
    the message was not being sent any more."""
    now = timezone.now()
    with transaction.atomic():
        outbound = outbound_lock(outbound_id=outbound_id)
        if outbound.status != DeliveryStatus.SENDING:
            return False
        outbound.fail()
        outbound.error_code = error.code[:16]
        outbound.error_message = error.message[:2000]
        outbound.status_updated_at = now
        outbound.save(update_fields=["status", "error_code", "error_message", "status_updated_at"])
        logger.warning("outbound %s failed permanently: %s %s", outbound_id, error.code, error.message)
        metric_count(OUTBOUND, "failed")
        twilio_error_count(error.code)
    return True
