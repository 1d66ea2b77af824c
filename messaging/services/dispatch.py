"""Handing queued messages over to be sent (docs/architecture.md §3, docs/reference.md §8):
one contact's texts one after the other in the order they were made, each sender paced
to its limit, the reply lane first.

The database is the queue: a message waits as a QUEUED row (its sender, its lane, its
cost in segments). A paced sender's texts wait there, never in the broker longer than a
short countdown; an unpaced sender's go straight to a send task. Either way a broker or a
worker that goes away loses nothing: the release job finds what they dropped.

- Per contact, in order: a message is *claimed* (QUEUED → SENDING, one guarded UPDATE)
  only while no older message of its contact is queued or sending. So the next text is
  handed to Twilio only after the previous one's API call returned, whatever the number
  of workers; when a send ends, the contact's next message is woken (``contact_next_wake``).
- Per sender, paced: a sender with a limit is served by its dispatcher
  (``outbound_dispatch``), which takes the sender's ready messages in lane order (replies
  to a contact's own message first, then plan and bulk texts, oldest first), reserves a
  slot for each on the shared limiter (``infra.pacing``: GCRA on the Redis server's clock,
  in segments) and hands each to a send task with the countdown to its slot — at most
  HORIZON seconds ahead. When the next slot is further away, the sender is *parked*: a
  run is scheduled for then and the worker moves on; no thread sleeps.
- Leases: a handed message carries ``lease_until``; the send task takes it (the lease is
  cleared, once) before calling Twilio. A lease that runs out (the task was lost with a
  broker, a worker was killed) sends the message back to the queue (the release job); a
  message taken by a send task follows the SENDING rules of messaging.services.
- Wakes are coalesced per sender (at most one pending dispatcher run, the earliest wins),
  on Redis with a broker, in the process without one. A parked sender takes no earlier
  wake: until its run the limiter has no slot for any message, reply or campaign (each
  text a bulk enrollment queued woke it once, for a run that handed nothing over). The
  release job (every minute)
  wakes every sender with a due message: a lost wake costs a minute, never a message.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from infra import background
from infra.background import eager, task_enqueue
from infra.pacing import pacing
from messaging.models import DeliveryStatus, Lane, OutboundMessage
from messaging.senders import sender_default, sender_rate
from messaging.services.policy import OTHER_PRIORITY, REPLY_PRIORITY, eager_pause

logger = logging.getLogger(__name__)

HORIZON = 0.5  # seconds: how far ahead a dispatcher reserves slots (a reply waits at most this)
BATCH = 200  # messages a dispatcher run hands over at most (then it runs again)
UNSENT = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)


def sender_key(sender_id: int | None) -> str:
    """The limiter's key of a sender. Texts with no sender go from the default, and so do
    the texts of the sender row whose address is TWILIO_FROM_NUMBER: one key, one limit."""
    sender_id = _one_default(sender_id)
    return "default" if sender_id is None else str(sender_id)


def _one_default(sender_id: int | None) -> int | None:
    """The default sender's row id for NULL (when an operator added the row), else as is."""
    if sender_id is None:
        default = sender_default()
        return default.pk if default is not None else None
    return sender_id


def _of_sender(sender_id: int | None) -> Q:
    """The texts that go from `sender_id` (the default's row: also those with no sender)."""
    default = sender_default()
    if sender_id is None or (default is not None and sender_id == default.pk):
        return (
            Q(sender__isnull=True) | Q(sender_id=default.pk)
            if default is not None
            else Q(sender__isnull=True)
        )
    return Q(sender_id=sender_id)


def _limiter():
    return pacing(settings.CELERY_BROKER_URL, _state_file(), str(connection.settings_dict.get("NAME") or ""))


def _state_file() -> str | None:
    """Without a broker, the limiter's state lives beside a SQLite database file (every
    serving process of the machine shares it); an in-memory database: in the process."""
    database = connection.settings_dict  # the test run's database, in tests
    name = str(database.get("NAME") or "")
    if "sqlite" not in database["ENGINE"] or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return f"{name}.pacing"


def _inline() -> bool:
    """Whether handed-over work runs right here (no broker, no in-process scheduler)."""
    return eager() and not background.running()


def _older_unsent():
    return OutboundMessage.objects.filter(
        contact=OuterRef("contact"), pk__lt=OuterRef("pk"), status__in=UNSENT
    )


def outbound_claim(*, outbound_id: int, now: datetime, lease_until: datetime | None) -> bool:
    """QUEUED → SENDING when it is its contact's oldest unsent message; one statement, so
    two workers never take one message, nor two messages of one contact. `lease_until`:
    handed to a send task that must take it by then (None: taken by the caller now)."""
    return bool(
        OutboundMessage.objects.filter(pk=outbound_id, status=DeliveryStatus.QUEUED)
        .exclude(Exists(_older_unsent()))
        .update(
            status=DeliveryStatus.SENDING,
            attempts=F("attempts") + 1,
            lease_until=lease_until,
            status_updated_at=now,
        )
    )


def outbound_take(*, outbound_id: int, now: datetime) -> bool:
    """A send task takes the message its dispatcher handed it: the lease is cleared once, so
    a duplicated task finds nothing to take."""
    return bool(
        OutboundMessage.objects.filter(
            pk=outbound_id, status=DeliveryStatus.SENDING, lease_until__isnull=False
        ).update(lease_until=None, status_updated_at=now)
    )


def _due(now: datetime) -> Q:
    return Q(send_after__isnull=True) | Q(send_after__lte=now)


@dataclass(frozen=True)
class Dispatched:
    """What a dispatcher run did: how many texts it handed over, and in how many seconds the
    sender has a slot again when it was parked (None: not parked)."""

    handed: int
    park: float | None = None
    more: bool = False  # it left ready messages behind (a full batch)


def outbound_dispatch(*, sender_id: int | None) -> Dispatched:
    """Hand the sender's ready messages over: the reply lane first, each contact's oldest
    first, as many as its limit allows in the next HORIZON seconds (no limit: a BATCH).
    Parks the sender when it is at its limit. One run at a time per sender: a run asked for
    while one goes is that run's next (``infra.pacing`` run_begin / run_end); right here
    (no broker, no scheduler) the runs follow one another in this call."""
    sender_id = _one_default(sender_id)
    limiter, key = _limiter(), sender_key(sender_id)
    handed, run = 0, Dispatched(0)
    for _ in range(_INLINE_RUNS if _inline() else 1):
        if not limiter.run_begin(key):
            break  # another run goes: it runs again when it ends
        run = Dispatched(0)
        try:
            run = _dispatch_run(sender_id=sender_id, key=key)
        finally:
            nxt = limiter.run_end(key, park=run.park, more=run.more)
        handed += run.handed
        if nxt is None:
            break
        if not _inline():
            _dispatch_schedule(sender_id=sender_id, delay=nxt)
            break
        if nxt > 0:
            break  # right here, a later run is left to the release job
    return Dispatched(handed, run.park)


_INLINE_RUNS = 50  # runs one call makes right here at most (then the release job goes on)


def _dispatch_run(*, sender_id: int | None, key: str) -> Dispatched:
    """One run of the sender's dispatcher (``outbound_dispatch``)."""
    limiter = _limiter()
    rate = sender_rate(sender_id=sender_id)
    inline = _inline()
    if not rate:
        backing_off = limiter.next_slot(key)  # a 429 backs even an unpaced sender off
        if backing_off > 0:
            return Dispatched(0, backing_off)
    now = timezone.now()
    limit = BATCH if not rate else min(BATCH, int(rate * HORIZON) + 10)
    ready = list(
        OutboundMessage.objects.filter(_due(now), _of_sender(sender_id), status=DeliveryStatus.QUEUED)
        .exclude(Exists(_older_unsent()))
        .order_by("lane", "pk")
        .values_list("pk", "segments", "lane")[:limit]
    )
    granted: list[tuple[int, float, int]] = []
    park = None
    for pk, segments, lane in ready:
        delay = 0.0
        if rate:
            slot = limiter.reserve(key, rate=rate, cost=max(segments, 1), horizon=0.0 if inline else HORIZON)
            if not slot.granted:
                park = slot.delay + (0.0 if inline else HORIZON / 2)
                break
            delay = slot.delay
        granted.append((pk, delay, lane))
    handed = _claim_all(granted, now=now)
    pause_before = eager_pause.until
    for index, (pk, delay, lane) in enumerate(handed):
        if inline and eager_pause.until != pause_before:
            # Sending in this process and the provider just failed: the rest waits (queued).
            rest = [row[0] for row in handed[index:]]
            OutboundMessage.objects.filter(pk__in=rest, status=DeliveryStatus.SENDING).update(
                status=DeliveryStatus.QUEUED, lease_until=None, attempts=F("attempts") - 1
            )
            logger.warning("dispatch: provider failing, %d messages left queued", len(rest))
            return Dispatched(index)
        _hand_over(outbound_id=pk, delay=delay, lane=lane)
    # More waiting: another run, behind other work.
    return Dispatched(len(handed), park, more=park is None and len(ready) == limit)


def _claim_all(granted: list[tuple[int, float, int]], *, now: datetime) -> list[tuple[int, float, int]]:
    """Claim the messages given slots as ``outbound_claim`` does, in one statement (one
    commit a run, not one a message: bench/campaign.py), under one lease (to the last slot,
    plus the hand-over lease). Those taken meanwhile, or held back by an older text of
    their contact, are left out."""
    if not granted:
        return []
    pks = [pk for pk, _, _ in granted]
    lease_until = (
        now + timedelta(seconds=max(delay for _, delay, _ in granted)) + settings.OUTBOUND_HANDOFF_LEASE
    )
    OutboundMessage.objects.filter(pk__in=pks, status=DeliveryStatus.QUEUED).exclude(
        Exists(_older_unsent())
    ).update(
        status=DeliveryStatus.SENDING,
        attempts=F("attempts") + 1,
        lease_until=lease_until,
        status_updated_at=now,
    )
    claimed = set(
        OutboundMessage.objects.filter(
            pk__in=pks, status=DeliveryStatus.SENDING, lease_until=lease_until
        ).values_list("pk", flat=True)
    )
    return [row for row in granted if row[0] in claimed]


def _hand_over(*, outbound_id: int, delay: float, lane: int) -> None:
    from celery import current_app

    task = current_app.tasks[settings.OUTBOUND_SEND_TASK]
    priority = REPLY_PRIORITY if lane == Lane.REPLY else OTHER_PRIORITY
    try:
        task_enqueue(task, args=(outbound_id,), countdown=delay or None, priority=priority)
    except Exception:  # the broker is away: the lease runs out and the release job requeues it
        logger.exception("outbound %s not handed over; it is sent again when its lease ends", outbound_id)


def sender_wake(
    *, sender_id: int | None, delay: float = 0.0, force: bool = False, park: bool = False
) -> None:
    """Have the sender's dispatcher run (in `delay` seconds): on a worker with a broker, on
    the in-process scheduler without one, else right here (a delayed run is then left to the
    release job). Coalesced: no second run is scheduled while one is pending no later, nor
    while the sender is parked (`park`: the run its dispatcher scheduled for when its limit
    allows a slot again)."""
    if _inline():
        if delay > 0 or (eager_pause.active() and not force):
            return
        outbound_dispatch(sender_id=sender_id)
        return
    sender_id = _one_default(sender_id)
    try:
        if not _limiter().wake_claim(sender_key(sender_id), delay, park=park):
            return
    except Exception:  # Redis is away: schedule anyway (the broker may be back first)
        logger.warning("sender %s: wake not coalesced (limiter unavailable)", sender_key(sender_id))
    _dispatch_schedule(sender_id=sender_id, delay=delay)


def _dispatch_schedule(*, sender_id: int | None, delay: float) -> None:
    from messaging.tasks import sender_dispatch_task  # the task module imports this one

    try:
        task_enqueue(
            sender_dispatch_task, args=(sender_id,), countdown=delay or None, priority=REPLY_PRIORITY
        )
    except Exception:
        logger.exception("sender %s not woken; the release job will", sender_key(sender_id))


def sender_send_now(*, sender_id: int | None, cost: int) -> float:
    """Right before the call to Twilio: 0.0 when the sender may hand `cost` segments over
    now (they are counted), else the seconds to wait. The dispatcher planned the slot with a
    margin; this only stops a task that ran late from bunching with the next ones past the
    limit in any one second (a sliding window, so a late task is rarely turned back)."""
    rate = sender_rate(sender_id=sender_id)
    if not rate:
        return 0.0
    try:
        return _limiter().admit(sender_key(sender_id), rate=rate, cost=max(cost, 1))
    except Exception:
        logger.warning("sender %s: limiter unavailable; the message waits", sender_key(sender_id))
        return 1.0


def outbound_hand_over_later(*, outbound_id: int, delay: float, lane: int) -> None:
    """A message its send task took but may not send yet: handed over again in `delay`
    seconds, under a new lease."""
    now = timezone.now()
    if OutboundMessage.objects.filter(
        pk=outbound_id, status=DeliveryStatus.SENDING, lease_until__isnull=True
    ).update(lease_until=now + timedelta(seconds=delay) + settings.OUTBOUND_HANDOFF_LEASE):
        _hand_over(outbound_id=outbound_id, delay=delay, lane=lane)


def sender_backing_off(*, sender_id: int | None) -> bool:
    """Whether Twilio told the sender to slow down a moment ago (its back-off runs)."""
    try:
        return _limiter().next_slot(sender_key(sender_id)) > 0
    except Exception:
        return False


def sender_backoff(*, sender_id: int | None, seconds: float) -> None:
    """Twilio said slow down (429, 63018): the sender gets no slot for `seconds`."""
    try:
        _limiter().backoff(sender_key(sender_id), seconds)
    except Exception:
        logger.warning("sender %s: back-off not recorded (limiter unavailable)", sender_key(sender_id))


def contact_next_wake(*, contact_id: int) -> None:
    """A send of the contact's ended: wake the sender of their next unsent message, at its
    time (a retry waits for its backoff)."""
    nxt = (
        OutboundMessage.objects.filter(contact_id=contact_id, status=DeliveryStatus.QUEUED)
        .order_by("pk")
        .values("sender_id", "send_after")
        .first()
    )
    if nxt is None:
        return
    delay = 0.0
    if nxt["send_after"] is not None:
        delay = max((nxt["send_after"] - timezone.now()).total_seconds(), 0.0)
    sender_wake(sender_id=nxt["sender_id"], delay=delay)
