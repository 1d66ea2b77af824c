"""The release job (beat, every minute; in-process without a broker): what waited for its
time, or lost its wake, goes on (docs/architecture.md §3)."""

import logging
from datetime import datetime

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from messaging.models import DeliveryStatus, OutboundMessage
from messaging.services.dispatch import sender_wake
from messaging.services.policy import MAX_ATTEMPTS, RELEASE_BATCH, SENDING_STALE_AFTER

logger = logging.getLogger(__name__)


def outbound_release_due(*, now: datetime | None = None, batch_size: int = RELEASE_BATCH) -> int:
    """Wake the senders of every message whose time has come: HELD ones past quiet hours,
    QUEUED ones past their backoff whose wake was lost, handed-over ones whose lease ran
    out (their task was lost), SENDING ones abandoned by a dead worker. Returns how many
    messages are due. Idempotent; safe to run concurrently (sending is)."""
    now = now or timezone.now()
    held = list(
        OutboundMessage.objects.filter(status=DeliveryStatus.HELD, send_after__lte=now)
        .order_by("-answers_contact", "send_after", "pk")
        .values_list("pk", flat=True)[:batch_size]
    )
    if held:
        OutboundMessage.objects.filter(pk__in=held, status=DeliveryStatus.HELD).update(
            status=DeliveryStatus.QUEUED, status_updated_at=now
        )
    # Handed over, never taken (the task was lost with a broker, its worker killed): queued
    # again; nothing was sent, so nothing can go twice.
    lapsed = list(
        OutboundMessage.objects.filter(
            status=DeliveryStatus.SENDING, lease_until__lt=now, interaction__provider_sid__isnull=True
        ).values_list("pk", flat=True)[:batch_size]
    )
    if lapsed:
        OutboundMessage.objects.filter(
            pk__in=lapsed, status=DeliveryStatus.SENDING, lease_until__lt=now
        ).update(status=DeliveryStatus.QUEUED, lease_until=None, send_after=now, status_updated_at=now)
        logger.warning("release job: %d handed-over messages were never taken; queued again", len(lapsed))
    requeued = [*held, *lapsed]
    stale = list(
        OutboundMessage.objects.filter(
            status=DeliveryStatus.SENDING,
            lease_until__isnull=True,
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
            requeued.append(pk)
    due = OutboundMessage.objects.filter(status=DeliveryStatus.QUEUED).filter(
        Q(send_after__isnull=True)
        | Q(send_after__lte=now - settings.OUTBOUND_RELEASE_GRACE)
        | Q(pk__in=requeued)
    )
    count = due.count()
    if not count:
        return 0
    senders = sorted(set(due.values_list("sender_id", flat=True)), key=lambda pk: (pk is not None, pk or 0))
    for sender_id in senders:
        sender_wake(sender_id=sender_id, force=True)
    logger.info("release job: %d messages due on %d senders", count, len(senders))
    return count
