"""What a bulk enrollment will take to send, said before it is confirmed (docs/cockpit.md,
"Bulk enrollment"): which sender the plan's texts go from (its published revision's
`entry.sender`, else the default) and how long they take at that sender's limit, the texts
already waiting on it counted in — "At 1 MPS this takes about 29 hours; 3,000 campaign
messages are already waiting on this sender."

The figures are messaging's (`messaging.selectors.sender_queues`, read once for a page
whatever the number of plans); the cost of a text is the plan's first text rendered for
the sample contact (`automation.flow.context`), in segments.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from automation.flow.context import sample_contact, sample_text_context
from automation.flow.warnings import first_text
from automation.models import Plan
from messaging.durations import duration_words, send_duration_words, send_seconds
from messaging.models import Sender
from messaging.preview import sms_preview
from messaging.selectors import SenderQueue, sender_queue_for, sender_queues

# A CSV segment's size is known once it is read: its estimate is per this many contacts.
PER_CONTACTS = 1000


@dataclass(frozen=True)
class SendEstimate:
    plan: Plan
    sender: str  # the sender's label, as the sending queue page names it
    mps: int | None
    segments_per_text: int
    says: str  # the sentence the page shows


def plan_sender_address(*, plan: Plan) -> str | None:
    """The address the plan's published revision sends from when no contact wrote to
    another (docs/reference.md §8: `entry.sender`), or None: the default sender."""
    if plan.published_id is None:
        return None
    entry = plan.published.document.get("entry") or {}
    return entry.get("sender", None)


def plan_segments_per_text(*, plan: Plan, sender: SenderQueue) -> int:
    """What the plan's first text costs a contact, in segments (WhatsApp: 1): rendered for
    the sample contact, its links tracked when the plan tracks them; 1 when it sends none
    or does not render."""
    if plan.published_id is None or sender.kind == Sender.Kind.WHATSAPP:
        return 1
    document = plan.published.document
    _, text = first_text(document)
    if not text:
        return 1
    contact = sample_contact()
    shown = sms_preview(
        template=text,
        context=sample_text_context(contact=contact),
        contact=contact,
        track_links=bool(document.get("track_links", True)),
    )
    return max(int(shown.get("segments") or 1), 1) if shown.get("ok") else 1


def _waiting(queue: SenderQueue) -> str:
    n = queue.campaign_waiting
    if not n:
        return "nothing else is waiting on this sender"
    return f"{n:,} campaign message{'s are' if n != 1 else ' is'} already waiting on this sender"


def _per_text(segments: int) -> str:
    return f" ({segments} segments a text)" if segments > 1 else ""


def plan_send_estimate(*, plan: Plan, contacts: int | None, queues: list[SenderQueue]) -> SendEstimate:
    """The estimate for enrolling `contacts` people in `plan` (None: not known yet, as for
    a CSV segment before it is read: then per PER_CONTACTS contacts). `queues`: the
    sending queue (`sender_queues()`)."""
    queue = sender_queue_for(queues=queues, address=plan_sender_address(plan=plan))
    segments = plan_segments_per_text(plan=plan, sender=queue)
    opening = f"Sends from {queue.label}"
    if not queue.paced:
        says = f"{opening}, which is not paced: the texts go to Twilio as fast as it takes them"
        says += f"; {_waiting(queue)}." if queue.campaign_waiting else "."
        return SendEstimate(plan=plan, sender=queue.label, mps=None, segments_per_text=segments, says=says)
    at = f"{opening}. At {queue.mps} MPS{_per_text(segments)}"
    if contacts is None:
        each = send_duration_words(contacts=PER_CONTACTS, segments_per_text=segments, mps=queue.mps)
        says = f"{at}, each {PER_CONTACTS:,} contacts take {each}; {_waiting(queue)}"
        if queue.campaign_waiting:
            says += f", {duration_words(send_seconds(segments=queue.segments_waiting, mps=queue.mps))} first"
        says += "."
    else:
        took = duration_words(
            send_seconds(segments=contacts * segments + queue.segments_waiting, mps=queue.mps)
        )
        says = f"{at} this takes {took}; {_waiting(queue)}."
    return SendEstimate(plan=plan, sender=queue.label, mps=queue.mps, segments_per_text=segments, says=says)


def plans_send_estimates(*, plans: Iterable[Plan], contacts: int | None) -> list[SendEstimate]:
    """The estimate for each of `plans` (their published revisions read with them), the
    sending queue read once."""
    queues = sender_queues()
    return [plan_send_estimate(plan=plan, contacts=contacts, queues=queues) for plan in plans]
