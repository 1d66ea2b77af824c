"""Twilio's delivery status callbacks, applied monotonically."""

import logging
from dataclasses import dataclass

from django.db.models import Case, F, Value, When
from django.utils import timezone

from infra.logs import log_context_add
from infra.metrics import twilio_error_count
from messaging.models import STATUS_RANK, DeliveryStatus, OutboundMessage
from messaging.services.dispatch import sender_backoff
from messaging.services.policy import CODE_OPTED_OUT, SLOW_DOWN_CODES
from tracking.models import Interaction

logger = logging.getLogger(__name__)

# Twilio's MessageStatus → ours (every status Twilio sends, docs/reference.md §3). "accepted",
# "scheduled" and "queued" mean Twilio has it but has not sent it yet: never shown "sent".
TWILIO_STATUS_MAP = {
    "accepted": DeliveryStatus.ACCEPTED,
    "scheduled": DeliveryStatus.ACCEPTED,
    "queued": DeliveryStatus.ACCEPTED,
    "sending": DeliveryStatus.ACCEPTED,
    "sent": DeliveryStatus.SENT,
    "partially_delivered": DeliveryStatus.PARTIALLY_DELIVERED,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.CANCELED,
}
_FAILURES = (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED)


def delivery_status_from_twilio(status: str) -> str | None:
    """Our status for one of Twilio's MessageStatus words; None for one we do not track
    (receiving, received)."""
    return TWILIO_STATUS_MAP.get((status or "").strip().lower())


@dataclass(frozen=True)
class DeliveryApplied:
    """What a status callback told us: whether the message is ours, its contact, and
    whether the carrier says the number opted out (21610) — acting on that (ending the
    contact's journeys) is the orchestrator's (automation.doors.twilio)."""

    known: bool
    contact_id: int | None = None
    opted_out_at_carrier: bool = False


def delivery_status_apply(
    *, sid: str, status: str, error_code: str = "", outbound_id: int | None = None
) -> DeliveryApplied:
    """Apply a Twilio status callback; monotonic."""
    now = timezone.now()
    outbound = (
        OutboundMessage.objects.filter(interaction__provider_sid=sid)
        .only("pk", "interaction_id", "contact_id", "sender_id")
        .first()
    )
    if outbound is None and outbound_id is not None:
        # The callback outran the send call's answer: match by our id, keep the sid.
        outbound = (
            OutboundMessage.objects.filter(pk=outbound_id, interaction__provider_sid__isnull=True)
            .only("pk", "interaction_id", "contact_id", "sender_id")
            .first()
        )
        if outbound is not None:
            Interaction.objects.filter(pk=outbound.interaction_id, provider_sid__isnull=True).update(
                provider_sid=sid
            )
    if outbound is None:
        logger.warning("status callback for an unknown message %s (id %s): %s", sid, outbound_id, status)
        return DeliveryApplied(known=False)
    log_context_add(
        contact_id=outbound.contact_id, message_id=outbound.interaction_id, outbound_id=outbound.pk
    )

    code = _error_code(error_code)
    # The carrier says the number opted out (21610): whatever status this callback moves.
    applied = DeliveryApplied(
        known=True, contact_id=outbound.contact_id, opted_out_at_carrier=code == CODE_OPTED_OUT
    )
    new = delivery_status_from_twilio(status)
    if new is None:
        logger.info("status callback %s for %s ignored", status, sid)
        return applied
    lower = [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[new]]
    fields: dict = {"status": new, "status_updated_at": now}
    if new in _FAILURES and code:
        fields["error_code"] = code
    if STATUS_RANK[new] >= STATUS_RANK[DeliveryStatus.ACCEPTED] and new != DeliveryStatus.CANCELED:
        fields["sent_at"] = Case(When(sent_at__isnull=True, then=Value(now)), default=F("sent_at"))
    # One guarded UPDATE: concurrent or late callbacks can never move it backwards.
    changed = OutboundMessage.objects.filter(pk=outbound.pk, status__in=lower).update(**fields)
    if code in SLOW_DOWN_CODES:  # WhatsApp's rate limit (63018), told after the fact
        sender_backoff(sender_id=outbound.sender_id, seconds=1.0)
    if not changed:
        logger.info("status callback %s for %s ignored: already further along", status, sid)
    else:
        if code:  # once per callback that moved the message (a redelivered one does not)
            twilio_error_count(code)
        if new in _FAILURES:
            logger.warning("outbound %s %s (Twilio error %s)", outbound.pk, new, code or "none")
    return applied


def _error_code(raw: str) -> str:
    """Twilio's ErrorCode as we keep it: digits only (it is an integer in the API)."""
    raw = (raw or "").strip()
    return raw[:16] if raw.isascii() and raw.isdigit() else ""
