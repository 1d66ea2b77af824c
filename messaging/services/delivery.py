"""Twilio's delivery status callbacks, applied monotonically."""

import logging

from django.db.models import Case, F, Value, When
from django.utils import timezone

from messaging.models import STATUS_RANK, DeliveryStatus, OutboundMessage
from tracking.models import Interaction

logger = logging.getLogger(__name__)

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
