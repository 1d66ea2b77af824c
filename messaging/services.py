"""Outbound sending and delivery status. Owner: messaging (issue 3).

The life of an outbound message (`OutboundMessage.status`):

    outbound_queue ──▶ HELD (quiet hours) ──release job──▶ QUEUED ──▶ SENDING ──▶ SENT ──▶ DELIVERED …
                   └─▶ QUEUED ─────────────────────────────────┘   ▲       │
                                                                    └───────┘ transient error (backoff)

- `outbound_queue` writes, inside the caller's transaction, and enqueues on commit.
- `outbound_send` checks opt-out (cancels), then claims the row with one guarded
  `UPDATE … SET status='sending' WHERE status='queued'` (committed at once), calls the
  backend with no transaction open, then records the outcome. Of two tasks for the same
  message only one claim matches; the other does nothing: never two sends. An opt-out
  committed between the check and the claim cancels the QUEUED row
  (contacts.services.contact_opt_out), so the claim does not match either.
- Transient errors put the message back to QUEUED with `send_after` = now + backoff;
  the Celery task retries at that time on a worker, and `outbound_release_due` (beat,
  every minute) re-enqueues anything whose time has passed, so a lost task or broker
  message never loses the SMS. In eager mode (no broker) a send is tried once, with a
  short timeout, and left to the release job on failure: a webhook never waits on retries.
- A message stuck in SENDING (the worker died during the HTTP call) is re-queued by the
  release job after SENDING_STALE_AFTER when no provider sid is known for it. Twilio
  calls the StatusCallback (which carries our id) within seconds of accepting a message,
  so after that long "no sid" almost surely means "never accepted". This is
  at-least-once: a duplicate is possible only if Twilio accepted the first call and no
  callback reached us for SENDING_STALE_AFTER (e.g. PUBLIC_BASE_URL unset). We prefer a
  rare duplicate to a silently lost message.
"""

import functools
import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from contacts.phone import phone_timezone
from messaging.backends import (
    LOCMEM_BACKEND,
    PermanentSendError,
    SendResult,
    TransientSendError,
    get_backend,
)
from messaging.models import STATUS_RANK, DeliveryStatus, OutboundMessage, SmsMessage
from messaging.quiet_hours import quiet_hours_recipient_zone, quiet_hours_release_at
from tracking.models import Interaction

logger = logging.getLogger(__name__)

Purpose = OutboundMessage.Purpose

# Sent even to opted-out contacts (carriers require HELP answers; one confirmation).
ALWAYS_ALLOWED_PURPOSES = {Purpose.HELP, Purpose.OPT_OUT_CONFIRMATION}
# Purposes whose sending starts the enrollment's reply timeout.
PROMPT_PURPOSES = {Purpose.PROMPT, Purpose.REMINDER}

MAX_ATTEMPTS = 8  # then FAILED, error kept
BACKOFF_BASE_SECONDS = 30  # 30 s, 60 s, 2 min, 4 min … (30 s · 2^(attempt-1))
BACKOFF_CAP_SECONDS = 3600
SEND_TIMEOUT_SECONDS = 5.0  # on a worker
EAGER_SEND_TIMEOUT_SECONDS = 2.0  # inside a web request (no broker): one short try
EAGER_PAUSE_SECONDS = 30.0  # after a transient failure in eager mode, don't try inline for a while
RELEASE_GRACE = timedelta(seconds=60)  # a QUEUED message this late has lost its task
SENDING_STALE_AFTER = timedelta(minutes=10)
RELEASE_BATCH = 1000
DUE_TOLERANCE = timedelta(seconds=2)

# Twilio error codes we act on (shared/fixtures/twilio/README.md).
CODE_OPTED_OUT = "21610"
CODES_UNREACHABLE = {"21211", "21614", "21635"}  # invalid To, not SMS-capable, landline

# Twilio's MessageStatus → ours. Statuses not listed (receiving, received, …) are ignored.
TWILIO_STATUS_MAP = {
    "accepted": DeliveryStatus.QUEUED,
    "scheduled": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.SENDING,
    "sent": DeliveryStatus.SENT,
    "partially_delivered": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.CANCELED,
}

# Monotonic clock (time travel in tests does not move it): eager sends paused until then.
_eager_pause_until = 0.0


def _celery_eager() -> bool:
    """Read at call time: tests flip the setting after Celery may have cached its config."""
    return bool(settings.CELERY_TASK_ALWAYS_EAGER) or not settings.CELERY_BROKER_URL


def backoff_seconds(attempts: int) -> int:
    """Delay before the next try after `attempts` failed tries."""
    return min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)


@functools.cache
def _status_path() -> str:
    return reverse("twilio_status")


def status_callback_url(outbound_id: int) -> str:
    if not settings.PUBLIC_BASE_URL:
        return ""
    return f"{settings.PUBLIC_BASE_URL}{_status_path()}?id={outbound_id}"


def _contact_tz(contact: Contact) -> str:
    """The contact's timezone, else the one its number implies, else the site's."""
    return quiet_hours_recipient_zone(
        contact_tz=contact.timezone, implied_tz=phone_timezone(contact.phone), site_tz=settings.TIME_ZONE
    )


# --- queue ----------------------------------------------------------------------------


def outbound_queue(
    *,
    contact: Contact,
    body: str,
    purpose: str,
    answers_contact: bool,
    enrollment=None,
    state=None,
    sms_message: SmsMessage | None = None,
    media_url: str = "",
) -> OutboundMessage | None:
    """Inside the caller's transaction: record an outbound Interaction + OutboundMessage
    (held for quiet hours when it does not answer the contact) and send it on commit.
    Returns None when nothing may be sent (opted out, except help/opt-out confirmation).
    The loop guard is checked when sending, off the webhook's path (`outbound_send`)."""
    if contact.opted_out and purpose not in ALWAYS_ALLOWED_PURPOSES:
        logger.info("not queued: contact %s is opted out (purpose %s)", contact.pk, purpose)
        return None
    now = timezone.now()

    status, send_after = DeliveryStatus.QUEUED, now
    if not answers_contact:
        release_at = quiet_hours_release_at(
            now=now, tz_name=_contact_tz(contact), window=settings.SMS_QUIET_HOURS
        )
        if release_at is not None:
            status, send_after = DeliveryStatus.HELD, release_at

    interaction = Interaction.objects.create(
        contact=contact,
        direction=Interaction.Direction.OUTBOUND,
        body=body,
        media_urls=[media_url] if media_url else [],
        enrollment=enrollment,
        created_at=now,
    )
    outbound = OutboundMessage.objects.create(
        interaction=interaction,
        contact=contact,
        enrollment=enrollment,
        state=state,
        sms_message=sms_message,
        purpose=purpose,
        to_number=contact.phone,
        from_number=settings.TWILIO_FROM_NUMBER,
        media_url=media_url,
        answers_contact=answers_contact,
        status=status,
        send_after=send_after,
        status_updated_at=now,
    )
    if status == DeliveryStatus.QUEUED:
        outbound_id = outbound.pk
        transaction.on_commit(lambda: outbound_enqueue(outbound_id=outbound_id))
    return outbound


def outbound_enqueue(*, outbound_id: int, force: bool = False) -> None:
    """Hand one message to Celery: a worker when a broker is configured, else run it here
    (one short try; skipped for a while after a failure unless `force`). Never raises:
    whatever is not sent now, the release job sends later."""
    from messaging.tasks import outbound_send_task

    try:
        if _celery_eager():
            if not force and time.monotonic() < _eager_pause_until:
                logger.info("outbound %s left queued: sending is paused after a recent failure", outbound_id)
                return
            outbound_send_task.apply(args=(outbound_id,))
        else:
            outbound_send_task.apply_async(args=(outbound_id,))
    except Exception:
        logger.exception("outbound %s not handed over now; the release job will send it", outbound_id)


# --- send -----------------------------------------------------------------------------


def outbound_send(*, outbound_id: int, timeout: float | None = None, eager: bool = False) -> int | None:
    """Send one queued message through the SMS backend. Idempotent.

    Returns the seconds after which to try again when a transient error left the message
    queued (the task retries then), else None."""
    global _eager_pause_until
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
        logger.info("outbound %s is not due before %s", outbound_id, row["send_after"])
        return None
    if row["contact__opted_out"] and row["purpose"] not in ALWAYS_ALLOWED_PURPOSES:
        OutboundMessage.objects.filter(pk=outbound_id, status=DeliveryStatus.QUEUED).update(
            status=DeliveryStatus.CANCELED,
            error_message="Contact opted out before sending.",
            status_updated_at=now,
        )
        logger.info("outbound %s canceled: contact %s opted out", outbound_id, row["contact_id"])
        return None
    if _loop_guard_tripped(row=row, outbound_id=outbound_id, now=now):
        OutboundMessage.objects.filter(pk=outbound_id, status=DeliveryStatus.QUEUED).update(
            status=DeliveryStatus.CANCELED,
            error_message=(
                f"Loop guard: the same text went to this contact {settings.SMS_LOOP_GUARD_MAX} times "
                f"in {settings.SMS_LOOP_GUARD_MINUTES} min."
            ),
            status_updated_at=now,
        )
        logger.warning("loop guard: outbound %s to contact %s canceled", outbound_id, row["contact_id"])
        return None

    # 1. Claim it: one guarded UPDATE (QUEUED → SENDING), committed at once. Of two tasks
    # for the same message only one matches; an opt-out committed meanwhile canceled the
    # row (contacts.services.contact_opt_out), so it does not match either.
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
            media_url=row["media_url"],
            status_callback=status_callback_url(outbound_id),
        )
    except PermanentSendError as exc:
        _record_permanent(outbound_id=outbound_id, error=exc)
        return None
    except Exception as exc:  # TransientSendError, or a backend bug: retry, capped
        if not isinstance(exc, TransientSendError):
            logger.exception("outbound %s: unexpected backend error", outbound_id)
        if eager:
            _eager_pause_until = time.monotonic() + EAGER_PAUSE_SECONDS
        return _record_transient(outbound_id=outbound_id, error=exc)

    # 3. The outcome.
    sent_at = _record_sent(outbound_id=outbound_id, interaction_id=row["interaction_id"], result=result)
    if row["purpose"] in PROMPT_PURPOSES and row["enrollment_id"]:
        from automation.services import enrollment_prompt_sent

        enrollment_prompt_sent(outbound_id=outbound_id, sent_at=sent_at)
    return None


def _loop_guard_tripped(*, row: dict, outbound_id: int, now: datetime) -> bool:
    """Whether the same text already went to this contact SMS_LOOP_GUARD_MAX times within
    SMS_LOOP_GUARD_MINUTES (an auto-responder ping-pong, a plan that loops on itself)."""
    window_start = now - timedelta(minutes=settings.SMS_LOOP_GUARD_MINUTES)
    sent_before = (
        OutboundMessage.objects.filter(
            contact_id=row["contact_id"],
            created_at__gte=window_start,
            interaction__body=row["interaction__body"],
            status__in=GONE_OUT_STATUSES,
        )
        .exclude(pk=outbound_id)
        .count()
    )
    return sent_before >= settings.SMS_LOOP_GUARD_MAX


# Statuses of a message that left (or is leaving) for the carrier.
GONE_OUT_STATUSES = (
    DeliveryStatus.SENDING, DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERED,
)  # fmt: skip

_SEND_FIELDS = (
    "status", "send_after", "purpose", "to_number", "media_url", "enrollment_id", "interaction_id",
    "contact_id", "interaction__body", "contact__opted_out", "contact__is_test",
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
        # A status callback may already have moved the status on (matched by our id): only
        # SENDING becomes SENT; sent_at is kept either way.
        if not OutboundMessage.objects.filter(pk=outbound_id, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.SENT, **fields
        ):
            OutboundMessage.objects.filter(pk=outbound_id).update(**fields)
    logger.info("outbound %s sent as %s", outbound_id, result.sid)
    return now


def _record_transient(*, outbound_id: int, error: Exception) -> int | None:
    now = timezone.now()
    code = getattr(error, "code", "") or ""
    with transaction.atomic():
        outbound = OutboundMessage.objects.select_for_update().get(pk=outbound_id)
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
            retry_in = backoff_seconds(outbound.attempts)
            outbound.send_after = now + timedelta(seconds=retry_in)
            logger.warning(
                "outbound %s: transient error (attempt %d), retry in %d s: %s",
                outbound_id,
                outbound.attempts,
                retry_in,
                error,
            )
        outbound.save(
            update_fields=["status", "error_code", "error_message", "status_updated_at", "send_after"]
        )
    return retry_in


def _record_permanent(*, outbound_id: int, error: PermanentSendError) -> None:
    from automation.models import Enrollment, EnrollmentStatus
    from automation.services import enrollment_end
    from contacts.services import contact_opt_out

    now = timezone.now()
    contact_id = OutboundMessage.objects.filter(pk=outbound_id).values_list("contact_id", flat=True).get()
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact_id)
        outbound = OutboundMessage.objects.select_for_update().get(pk=outbound_id)
        if outbound.status != DeliveryStatus.SENDING:
            return
        outbound.fail()
        outbound.error_code = error.code[:16]
        outbound.error_message = error.message[:2000]
        outbound.status_updated_at = now
        outbound.save(update_fields=["status", "error_code", "error_message", "status_updated_at"])
        logger.warning("outbound %s failed permanently: %s %s", outbound_id, error.code, error.message)
        if error.code == CODE_OPTED_OUT:
            contact_opt_out(contact=contact, source="carrier", detail=CODE_OPTED_OUT)
        elif error.code in CODES_UNREACHABLE and outbound.enrollment_id:
            enrollment = (
                Enrollment.objects.select_for_update()
                .filter(pk=outbound.enrollment_id, status=EnrollmentStatus.ACTIVE)
                .first()
            )
            if enrollment is not None:
                enrollment_end(
                    enrollment=enrollment,
                    status=EnrollmentStatus.FAILED,
                    reason=f"Twilio {error.code}: {error.message}"[:200],
                )


# --- release job ----------------------------------------------------------------------


def outbound_release_due(*, now: datetime | None = None, batch_size: int = RELEASE_BATCH) -> int:
    """Enqueue every message whose time has come: HELD ones past quiet hours, QUEUED ones
    past their backoff whose task was lost, SENDING ones abandoned by a dead worker.
    Returns how many were enqueued. Idempotent; safe to run concurrently (sending is)."""
    now = now or timezone.now()
    held = list(
        OutboundMessage.objects.filter(status=DeliveryStatus.HELD, send_after__lte=now)
        .order_by("send_after")
        .values_list("pk", flat=True)[:batch_size]
    )
    if held:
        OutboundMessage.objects.filter(pk__in=held, status=DeliveryStatus.HELD).update(
            status=DeliveryStatus.QUEUED, status_updated_at=now
        )
    late = list(
        OutboundMessage.objects.filter(status=DeliveryStatus.QUEUED, send_after__lte=now - RELEASE_GRACE)
        .order_by("send_after")
        .values_list("pk", flat=True)[:batch_size]
    )
    stale = list(
        OutboundMessage.objects.filter(
            status=DeliveryStatus.SENDING,
            status_updated_at__lte=now - SENDING_STALE_AFTER,
            interaction__provider_sid__isnull=True,
        ).values_list("pk", "attempts")[:batch_size]
    )
    for pk, attempts in stale:
        base = OutboundMessage.objects.filter(pk=pk, status=DeliveryStatus.SENDING, attempts=attempts)
        if attempts >= MAX_ATTEMPTS:
            base.update(
                status=DeliveryStatus.FAILED,
                error_message="No answer from the provider (worker lost during the send).",
                status_updated_at=now,
            )
        elif base.update(status=DeliveryStatus.QUEUED, send_after=now, status_updated_at=now):
            logger.warning("outbound %s was stuck sending since a worker died; queued again", pk)
            late.append(pk)
    ids = held + late
    eager = _celery_eager()
    pause_before = _eager_pause_until
    enqueued = 0
    for pk in ids:
        if eager and _eager_pause_until != pause_before:
            # Sending in-process and the provider just failed: the rest waits for the next run.
            logger.warning(
                "release job: provider failing, %d messages left for the next run", len(ids) - enqueued
            )
            break
        outbound_enqueue(outbound_id=pk, force=True)
        enqueued += 1
    if enqueued:
        logger.info("release job: enqueued %d messages", enqueued)
    return enqueued


# --- status callbacks -----------------------------------------------------------------


def delivery_status_apply(
    *, sid: str, status: str, error_code: str = "", outbound_id: int | None = None
) -> bool:
    """Apply a Twilio status callback; monotonic. False when the message is unknown."""
    now = timezone.now()
    outbound = (
        OutboundMessage.objects.filter(interaction__provider_sid=sid).only("pk", "interaction_id").first()
    )
    if outbound is None and outbound_id is not None:
        # The callback outran the send call's answer: match by our id, keep the sid.
        outbound = (
            OutboundMessage.objects.filter(pk=outbound_id, interaction__provider_sid__isnull=True)
            .only("pk", "interaction_id")
            .first()
        )
        if outbound is not None:
            Interaction.objects.filter(pk=outbound.interaction_id, provider_sid__isnull=True).update(
                provider_sid=sid
            )
    if outbound is None:
        logger.warning("status callback for an unknown message %s (id %s): %s", sid, outbound_id, status)
        return False

    new = TWILIO_STATUS_MAP.get((status or "").strip().lower())
    if new is None:
        logger.info("status callback %s for %s ignored", status, sid)
        return True
    lower = [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[new]]
    fields: dict = {"status": new, "status_updated_at": now}
    if new in (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED) and error_code:
        fields["error_code"] = str(error_code)[:16]
    if new in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED):
        fields["sent_at"] = Case(When(sent_at__isnull=True, then=Value(now)), default=F("sent_at"))
    # One guarded UPDATE: concurrent or late callbacks can never move it backwards.
    changed = OutboundMessage.objects.filter(pk=outbound.pk, status__in=lower).update(**fields)
    if not changed:
        logger.info("status callback %s for %s ignored: already further along", status, sid)
    return True
