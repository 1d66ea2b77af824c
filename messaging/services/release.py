"""The release job (beat, every minute; in-process without a broker): what waited for its
time, or lost its wake, goes on (docs/architecture.md §3)."""

import logging
import time
from datetime import datetime

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from infra.metrics import OUTBOUND, metric_count
from messaging.models import DeliveryStatus, OutboundMessage
from messaging.services.dispatch import outbound_dispatch, sender_wake
from messaging.services.policy import MAX_ATTEMPTS, RELEASE_BATCH, RELEASE_MAX_BATCHES, SENDING_STALE_AFTER

logger = logging.getLogger(__name__)


def outbound_release_due(
    *, now: datetime | None = None, batch_size: int = RELEASE_BATCH, wake: bool = True
) -> int:
    """Wake the senders of every message whose time has come: HELD ones past quiet hours,
    QUEUED ones past their backoff whose wake was lost, handed-over ones whose lease ran
    out (their task was lost), SENDING ones abandoned by a dead worker. Returns how many
    messages are due. Idempotent; safe to run concurrently (sending is). `wake`: False
    leaves the hand-over to the caller (the cron drain, ``outbound_drain``)."""
    now = now or timezone.now()
    # Everything held until now goes to its sender's queue, in batches (a campaign held for
    # the night is released at once; its senders pace it).
    for _ in range(RELEASE_MAX_BATCHES):
        held = list(
            OutboundMessage.objects.filter(status=DeliveryStatus.HELD, send_after__lte=now)
            .order_by("send_after", "pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        OutboundMessage.objects.filter(pk__in=held, status=DeliveryStatus.HELD).update(
            status=DeliveryStatus.QUEUED, status_updated_at=now
        )
        if len(held) < batch_size:
            break
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
        ).update(
            status=DeliveryStatus.QUEUED,
            lease_until=None,
            send_after=now,
            status_updated_at=now,
            attempts=F("attempts") - 1,  # never tried: it does not count
        )
        logger.warning("release job: %d handed-over messages were never taken; queued again", len(lapsed))
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
            if base.update(
                status=DeliveryStatus.FAILED,
                error_message="No answer from the provider (worker lost during the send).",
                status_updated_at=now,
            ):
                metric_count(OUTBOUND, "failed")
        elif base.update(status=DeliveryStatus.QUEUED, send_after=now, status_updated_at=now):
            metric_count(OUTBOUND, "retried")
            logger.warning("outbound %s was stuck sending since a worker died; queued again", pk)
    due = OutboundMessage.objects.filter(status=DeliveryStatus.QUEUED).filter(
        Q(send_after__isnull=True)
        | Q(send_after__lte=now - settings.OUTBOUND_RELEASE_GRACE)
        | Q(status_updated_at=now)  # released or queued again by this run
    )
    count = due.count()
    if not count:
        return 0
    senders = list(due.order_by().values_list("sender_id", flat=True).distinct())
    for sender_id in senders if wake else ():
        sender_wake(sender_id=sender_id, force=True)
    logger.info("release job: %d messages due on %d senders", count, len(senders))
    return count


def outbound_drain(*, seconds: float) -> int:
    """Without a broker and without the in-process scheduler (cron runs `send_due_messages`):
    run the release job, then keep each sender's due texts going at its pace for up to
    `seconds` — this one-shot process sleeps between slots, no worker does. Returns how
    many texts were handed over."""
    deadline = time.monotonic() + seconds
    outbound_release_due(wake=False)
    handed = 0
    while time.monotonic() < deadline:
        now = timezone.now()
        senders = set(
            OutboundMessage.objects.filter(status=DeliveryStatus.QUEUED)
            .filter(Q(send_after__isnull=True) | Q(send_after__lte=now))
            .values_list("sender_id", flat=True)
            .distinct()
        )
        if not senders:
            break
        parks = []
        for sender_id in senders:
            run = outbound_dispatch(sender_id=sender_id)
            handed += run.handed
            parks.append(run.park if run.park is not None else (0.0 if run.handed else 1.0))
        time.sleep(min(max(min(parks), 0.0), max(deadline - time.monotonic(), 0.0)))
    return handed
