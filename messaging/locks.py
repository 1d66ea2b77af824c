"""Row locks on outbound messages, the last lock of a change a message makes. The order
every transaction takes its locks in (contact, then enrollments, then outbound messages)
is written once, in ``automation.locks``."""

from django.db.models import QuerySet

from messaging.models import OutboundMessage


def outbound_messages_qs_select_for_update() -> QuerySet[OutboundMessage]:
    """Outbound messages to lock inside the caller's transaction (their own rows only), in
    id order."""
    return OutboundMessage.objects.order_by("pk").select_for_update(of=("self",))


def outbound_lock(*, outbound_id: int) -> OutboundMessage:
    """Inside the caller's transaction: outbound message `outbound_id`, its row locked
    (``FOR UPDATE``); OutboundMessage.DoesNotExist when there is none."""
    return outbound_messages_qs_select_for_update().get(pk=outbound_id)
