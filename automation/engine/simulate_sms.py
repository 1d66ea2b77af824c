"""``simulate_sms``: one message through the inbound pipeline, nothing kept (docs/reference.md §4)."""

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from automation.engine.inbound import inbound_message_route
from contacts.services import contact_insert_if_new
from messaging.models import OutboundMessage
from tracking.services import InboundMessage, inbound_message_store


@dataclass(frozen=True)
class SimulatedReply:
    body: str
    purpose: str
    status: str  # queued (would be sent now) or held (quiet hours)
    send_after: object = None


def simulator_message_run(*, phone: str, body: str) -> list[SimulatedReply]:
    """Run the inbound pipeline for one message from `phone` (E.164) and return what the
    contact would be sent back. Everything happens in a transaction that is rolled back:
    nothing is stored, and the sends (queued on commit) never run."""
    message = InboundMessage(
        sid=f"SIMULATED{uuid.uuid4().hex}",
        phone=phone,
        body=body,
        media=[],
        raw={"Body": body},
        from_address=phone,
    )
    with transaction.atomic():
        contact_insert_if_new(phone=phone)
        interaction_id = inbound_message_store(message=message, created_at=timezone.now())
        result = inbound_message_route(interaction_id=interaction_id)
        replies = [
            SimulatedReply(
                body=o.interaction.body, purpose=o.purpose, status=o.status, send_after=o.send_after
            )
            for o in OutboundMessage.objects.filter(
                contact=result.contact, interaction_id__gt=result.interaction.pk
            )
            .select_related("interaction")
            .order_by("pk")
        ]
        transaction.set_rollback(True)
    return replies
