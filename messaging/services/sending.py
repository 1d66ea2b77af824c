"""Sending one message through the SMS backend: idempotent, retried, guarded."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from infra import background
from messaging.backends import (
    LOCMEM_BACKEND,
    PermanentSendError,
    SendResult,
    TransientSendError,
    get_backend,
)
from messaging.channels import CODE_OUTSIDE_WINDOW, address_channel
from messaging.locks import outbound_lock
from messaging.models import STATUS_RANK, DeliveryStatus, OutboundMessage
from messaging.services.delivery import delivery_status_from_twilio
from messaging.services.policy import (
    ALWAYS_ALLOWED_PURPOSES,
    DUE_TOLERANCE,
    EAGER_SEND_TIMEOUT_SECONDS,
    MAX_ATTEMPTS,
    SEND_TIMEOUT_SECONDS,
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
    contact out). `retry`: a transient error left the message queued — try again then."""

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
    """Send one queued message through the SMS backend. Idempotent. None when there was
    nothing to do (not queued any more, canceled, claimed by another task)."""
    now = timezone.now()
    try:
        row = OutboundMessage.objects.values(*_SEND_FIELDS).get(pk=outbound_id)
    except OutboundMessage.DoesNotExist:
        logger.warning("outbound %s does not exist", outbound_id)
        return None
    if row["status"] != DeliveryStatus.QUEUED:
        logger.info("outbound %s is %s, not queued: nothing to do", outbound_id, row["status"])
        return None
    if row["send_after"] and row["send_after"] > now + DUE_TOLERANCE:
        # Early (a duplicate task, or a countdown that fired a moment soon): not now, but
        # then — never later than the message's own time.
        wait = (row["send_after"] - now).total_seconds()
        logger.info("outbound %s is not due for %.1f s", outbound_id, wait)
        return _outcome(row, retry=RetryLater(seconds=wait, priority=send_priority(row["answers_contact"])))
    if row["contact__opted_out"] and row["purpose"] not in ALWAYS_ALLOWED_PURPOSES:
        OutboundMessage.objects.filter(pk=outbound_id, status=DeliveryStatus.QUEUED).update(
            status=DeliveryStatus.CANCELED,
            error_message="Contact opted out before sending.",
            status_updated_at=now,
        )
        logger.info("outbound %s canceled: contact %s opted out", outbound_id, row["contact_id"])
        return None
    # WhatsApp: free text only within 24 h of the contact's last WhatsApp message, checked again
    # now (a held text may be released after the window closed): else 63016, never sent.
    channel, contact_id = address_channel(row["to_number"]), row["contact_id"]
    if not row["content_sid"] and not free_text_allowed(channel=channel, contact_id=contact_id, at=now):
        if not outbound_outside_window_fail(outbound_id=outbound_id, now=now):
            return None
        return _outcome(row, failed_code=CODE_OUTSIDE_WINDOW, failed_message=OUTSIDE_WINDOW)

    # 1. Claim it: one guarded UPDATE (QUEUED → SENDING), committed at once. Of two tasks
    # for the same message only one matches; an opt-out committed meanwhile canceled the
    # row (automation.engine.consent.contact_opt_out), so it does not match either.
    claimed = OutboundMessage.objects.filter(pk=outbound_id, status=DeliveryStatus.QUEUED).update(
        status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, status_updated_at=now
    )
    if not claimed:
        logger.info("outbound %s was claimed or canceled meanwhile: nothing to do", outbound_id)
        return None

    # 2. The network call, with no transaction open.
    backend = (
        get_backend(LOCMEM_BACKEND)
        if row["contact__is_test"]
        else get_backend(timeout=timeout or (EAGER_SEND_TIMEOUT_SECONDS if eager else SEND_TIMEOUT_SECONDS))
    )
    try:
        result = backend.send(
            to=row["to_number"],
            body=row["interaction__body"],
            media_urls=tuple(row["media_urls"] or ()),
            status_callback=status_callback_url(outbound_id),
            sender=row["sender__address"] or "",
            messaging_service_sid=row["sender__messaging_service_sid"] or "",
            content_sid=row["content_sid"],
            content_variables=row["content_variables"] or None,
        )
    except PermanentSendError as exc:
        if not _record_permanent(outbound_id=outbound_id, error=exc):
            return None
        return _outcome(row, failed_code=exc.code, failed_message=exc.message)
    except Exception as exc:  # TransientSendError, or a backend bug: retry, capped
        if not isinstance(exc, TransientSendError):
            logger.exception("outbound %s: unexpected backend error", outbound_id)
        if eager and not background.running():
            eager_pause.trip()  # sending inside requests: spare the next ones a dead API
        retry = _record_transient(outbound_id=outbound_id, error=exc)
        return _outcome(row, retry=retry) if retry is not None else None

    # 3. The outcome.
    sent_at = _record_sent(outbound_id=outbound_id, interaction_id=row["interaction_id"], result=result)
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
    "sender__address", "sender__messaging_service_sid", "content_sid", "content_variables",
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
        if outbound.attempts >= MAX_ATTEMPTS:
            outbound.fail()
            retry_in = None
            logger.error("outbound %s failed after %d attempts: %s", outbound_id, outbound.attempts, error)
        else:
            outbound.retry_later()
            seconds = backoff_seconds(
                outbound.attempts,
                answers_contact=outbound.answers_contact,
                retry_after=getattr(error, "retry_after", None),
            )
            retry_in = RetryLater(seconds=seconds, priority=send_priority(outbound.answers_contact))
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
    return True
