"""Reads of messaging's data that pages and /metrics use: selectors that read,
keyword-only and typed (docs/architecture.md §4).

The sending queue per sender (docs/cockpit.md, "The sending queue"): how many texts wait in
each lane, the segments they cost, the rate Twilio takes them at now, and when the campaign
lane will have drained. Three aggregate queries whatever the number of senders or texts:
the senders, the waiting texts grouped by sender and lane (the partial index
``outbound_dispatch_idx``), the texts accepted in the last minute grouped by sender
(``outbound_sent_at_idx``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, Count, Max, Q, Sum, Value, When
from django.utils import timezone

from messaging.durations import duration_words, send_seconds
from messaging.models import DeliveryStatus, Lane, OutboundMessage, Sender
from messaging.senders import sender_address_kind, sender_rate

# The rate now: segments Twilio accepted in this many seconds, a second.
RATE_WINDOW_SECONDS = 60


@dataclass(frozen=True)
class SenderQueue:
    """One sender's queue. A message waits while `queued`; `held` ones (quiet hours, the
    frequency cap) are not in the queue until released, `sending` ones are being handed over.

    `drain_seconds`: when the campaign lane will have drained — None when nothing waits in
    it; for a paced sender the segments waiting in both lanes (the reply lane goes first)
    over its MPS; for an unpaced one over the rate now, or 0 ("now") when nothing went out
    in the last minute."""

    sender_id: int | None  # the Sender row; None: the default without a row of its own
    address: str  # "" for a default that is only a Messaging Service
    label: str  # what a person reads: "Campaign short code (12345)", "default (Messaging Service MG…)"
    kind: str  # a Sender.Kind ("number", "short_code", "whatsapp"), "" when not known
    kind_label: str  # "Phone number", "Short code", "WhatsApp", "Messaging Service"
    is_default: bool
    mps: int | None  # segments a second at most; None: not paced
    reply_waiting: int
    campaign_waiting: int
    reply_segments: int
    campaign_segments: int
    rate_now: float  # segments a second accepted by Twilio over the last minute
    drain_seconds: float | None

    @property
    def segments_waiting(self) -> int:
        return self.reply_segments + self.campaign_segments

    @property
    def paced(self) -> bool:
        return bool(self.mps)

    @property
    def rate_now_shown(self) -> str:
        """The rate now with at most two decimals: "0", "0.1", "0.02", "50"."""
        return f"{self.rate_now:.2f}".rstrip("0").rstrip(".")

    @property
    def drained_in(self) -> str:
        """The drain estimate in words: "about 29 hours", "now", or "nothing waiting"."""
        if self.drain_seconds is None:
            return "nothing waiting"
        if self.drain_seconds == 0:
            return "now"
        return duration_words(self.drain_seconds)


def _drain_seconds(*, campaign_waiting: int, segments: int, mps: int | None, rate_now: float) -> float | None:
    if not campaign_waiting:
        return None
    if mps:
        return send_seconds(segments=segments, mps=mps)
    return segments / rate_now if rate_now > 0 else 0.0


def sender_queues(*, now: datetime | None = None) -> list[SenderQueue]:
    """Every sender's queue: the default first (TWILIO_FROM_NUMBER, or the Messaging Service
    when TWILIO_MESSAGING_SERVICE_SID is set; a Sender row at TWILIO_FROM_NUMBER holds its
    settings and its texts count as the default's), then the other senders by address.
    Three queries."""
    now = now or timezone.now()
    waiting: dict[tuple[int | None, int], tuple[int, int]] = {
        (row["sender_id"], row["lane"]): (row["messages"], row["segments"] or 0)
        for row in OutboundMessage.objects.filter(status=DeliveryStatus.QUEUED)
        .values("sender_id", "lane")
        .annotate(messages=Count("id"), segments=Sum("segments"))
        .order_by()
    }
    accepted: dict[int | None, int] = {
        row["sender_id"]: row["segments"] or 0
        for row in OutboundMessage.objects.filter(sent_at__gte=now - timedelta(seconds=RATE_WINDOW_SECONDS))
        .values("sender_id")
        .annotate(segments=Sum("segments"))
        .order_by()
    }
    senders = list(Sender.objects.order_by("address"))
    default_row = next((s for s in senders if s.address == settings.TWILIO_FROM_NUMBER), None)

    def queue(sender: Sender | None, *, ids: tuple[int | None, ...], is_default: bool) -> SenderQueue:
        def lane(which: int) -> tuple[int, int]:
            pairs = [waiting.get((i, which), (0, 0)) for i in ids]
            return sum(p[0] for p in pairs), sum(p[1] for p in pairs)

        (reply, reply_segments), (campaign, campaign_segments) = lane(Lane.REPLY), lane(Lane.CAMPAIGN)
        rate = sum(accepted.get(i, 0) for i in ids) / RATE_WINDOW_SECONDS
        mps = sender.mps if sender is not None else None
        address, label, kind, kind_label = _describe(sender, is_default=is_default)
        return SenderQueue(
            sender_id=sender.pk if sender is not None else None,
            address=address,
            label=label,
            kind=kind,
            kind_label=kind_label,
            is_default=is_default,
            mps=mps,
            reply_waiting=reply,
            campaign_waiting=campaign,
            reply_segments=reply_segments,
            campaign_segments=campaign_segments,
            rate_now=rate,
            drain_seconds=_drain_seconds(
                campaign_waiting=campaign, segments=reply_segments + campaign_segments, mps=mps, rate_now=rate
            ),
        )

    default_ids = (None, default_row.pk) if default_row is not None else (None,)
    queues = [queue(default_row, ids=default_ids, is_default=True)]
    queues += [queue(s, ids=(s.pk,), is_default=False) for s in senders if s is not default_row]
    return queues


def _kind(address: str) -> tuple[str, str]:
    kind = sender_address_kind(address)
    return (kind, Sender.Kind(kind).label) if kind else ("", "—")


def _describe(sender: Sender | None, *, is_default: bool) -> tuple[str, str, str, str]:
    """(address, label, kind, kind label) of a sender as the queue page shows it."""
    sid = settings.TWILIO_MESSAGING_SERVICE_SID
    if sender is not None:
        label = f"{sender} — default" if is_default else str(sender)
        if is_default and sid:
            label = f"default (Messaging Service {sid}) — {sender}"
        return sender.address, label, sender.kind, sender.get_kind_display()
    if sid:
        return settings.TWILIO_FROM_NUMBER, f"default (Messaging Service {sid})", "", "Messaging Service"
    address = settings.TWILIO_FROM_NUMBER
    if not address:
        return "", "default (TWILIO_FROM_NUMBER is not set)", "", "—"
    return address, f"{address} — default", *_kind(address)


def sender_queue_for(*, queues: list[SenderQueue], address: str | None) -> SenderQueue:
    """The queue of the sender at `address` among `queues` (None: the default). An address
    that is not a sender yet has nothing waiting and no limit (docs/reference.md §8: it
    becomes a sender with no limit)."""
    if address is None:
        return next(q for q in queues if q.is_default)
    found = next((q for q in queues if q.address == address), None)
    if found is not None:
        return found
    kind, kind_label = _kind(address)
    return SenderQueue(
        sender_id=None,
        address=address,
        label=f"{address} (not a sender yet)",
        kind=kind,
        kind_label=kind_label,
        is_default=False,
        mps=None,
        reply_waiting=0,
        campaign_waiting=0,
        reply_segments=0,
        campaign_segments=0,
        rate_now=0.0,
        drain_seconds=None,
    )


# --- what waits, and why (/metrics, the health page: docs/reference.md §9) ----------------

WAITING_REASONS = ("queued", "held", "paced", "retrying")


def outbound_waiting() -> dict[str, int]:
    """Texts not yet handed to Twilio, by why they wait: ``held`` (quiet hours, a state's
    hours, the frequency cap), ``retrying`` (a transient error: waiting for its backoff or
    its turn), ``paced`` (a paced sender's, waiting for a slot: queued, or handed to a send
    task with a countdown), ``queued`` (an unpaced sender's, waiting for a worker). One
    aggregate query over the unsent rows."""
    waiting = dict.fromkeys(WAITING_REASONS, 0)
    rows = (
        OutboundMessage.objects.filter(
            Q(status__in=(DeliveryStatus.HELD, DeliveryStatus.QUEUED))
            | Q(status=DeliveryStatus.SENDING, lease_until__isnull=False)
        )
        .annotate(retry=Case(When(attempts__gt=0, then=Value(1)), default=Value(0)))
        .values("status", "sender_id", "retry")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        if row["status"] == DeliveryStatus.HELD:
            reason = "held"
        elif row["status"] == DeliveryStatus.QUEUED and row["retry"]:
            reason = "retrying"
        else:
            reason = "paced" if sender_rate(sender_id=row["sender_id"]) else "queued"
        waiting[reason] += row["n"]
    return waiting


def sender_throttled(queue: SenderQueue) -> bool:
    """Whether Twilio told the sender to slow down a moment ago (a 429 or a 63018: its
    back-off runs; messaging.services.dispatch)."""
    from messaging.services.dispatch import sender_backing_off

    return sender_backing_off(sender_id=queue.sender_id)


@dataclass(frozen=True)
class FailingCode:
    """Texts that failed or went undelivered lately with one Twilio error code ("" when
    none: failed before Twilio had them)."""

    code: str
    count: int
    last_at: datetime


def outbound_failing(*, since: datetime) -> list[FailingCode]:
    """Texts made since `since` that failed or went undelivered, by error code, the most
    frequent first. One aggregate query (``outbound_created_idx``)."""
    rows = (
        OutboundMessage.objects.filter(
            created_at__gte=since, status__in=(DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED)
        )
        .values("error_code")
        .annotate(count=Count("id"), last_at=Max("created_at"))
        .order_by("-count", "error_code")
    )
    return [FailingCode(code=r["error_code"] or "", count=r["count"], last_at=r["last_at"]) for r in rows]
