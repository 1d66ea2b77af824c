"""Events (docs/reference.md §7): something a contact did elsewhere (a purchase in the shop, a click
on a tracked link), kept on their timeline as an inbound Interaction of channel ``api``
whose body is the event's type. What an event does to journeys is automation's
(``automation.engine.events``); this module only keeps it."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from contacts.models import Contact
from tracking.models import Interaction


@dataclass(frozen=True)
class EventIn:
    """An event as the API took it (checked: see automation.doors.event_api). `posted_by_id`: the
    API user who posted it, whose events its ``event_id`` is unique among (docs/reference.md §7);
    None for the events the product makes itself (a link's first click)."""

    event_id: str
    phone: str
    type: str
    value: Decimal | None
    data: dict[str, Any]
    occurred_at: datetime
    opt_in: bool = False
    posted_by_id: int | None = None


def event_find(*, event: EventIn) -> Interaction | None:
    """The event kept before under `event`'s id from the same sender (its API user, or the
    product), if any (its id, contact and phone only)."""
    return (
        Interaction.objects.filter(posted_by_id=event.posted_by_id, event_id=event.event_id)
        .only("pk", "contact_id", "from_address")
        .first()
    )


def event_store(*, contact: Contact, event: EventIn, now: datetime) -> tuple[Interaction, bool]:
    """Keep `event` on `contact`'s timeline: (the interaction, True) — or (the interaction
    stored before under the same ``event_id`` from the same sender, False): the same event
    again changes nothing. Whether that one was for the same phone is the caller's to judge.

    Call it in a transaction with the contact locked. The interaction is born routed
    (``routed_at``): the caller acts on it in the same transaction, and the sweeper of
    unrouted messages must never take it for a text."""
    try:
        with transaction.atomic():
            interaction = Interaction.objects.create(
                contact=contact,
                channel=Interaction.Channel.API,
                direction=Interaction.Direction.INBOUND,
                from_address=event.phone,
                body=event.type,
                event_id=event.event_id,
                posted_by_id=event.posted_by_id,
                value=event.value,
                raw_payload={"data": event.data, "opt_in": event.opt_in, "received_at": now.isoformat()},
                created_at=event.occurred_at,
                routed_at=now,
            )
    except IntegrityError:
        # The same event_id was kept before (the unique constraint decides, races included).
        return event_find(event=event), False
    return interaction, True


def event_data(interaction: Interaction) -> dict[str, Any]:
    """The `data` an event came with."""
    data = (interaction.raw_payload or {}).get("data")
    return data if isinstance(data, dict) else {}
