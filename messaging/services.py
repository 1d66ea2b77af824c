"""Outbound sending and delivery status. Owner: messaging (issue 3)."""

from contacts.models import Contact

from messaging.models import OutboundMessage, SmsMessage


def outbound_queue(
    *,
    contact: Contact,
    body: str,
    purpose: str,
    answers_contact: bool,
    enrollment=None,
    state=None,
    sms_message: SmsMessage | None = None,
    media_url: str = "",
) -> OutboundMessage | None:
    """Inside the caller's transaction: record an outbound Interaction + OutboundMessage
    (held for quiet hours when it does not answer the contact) and send it on commit.
    Returns None when nothing may be sent (opted out, except help/opt-out confirmation;
    loop guard)."""
    raise NotImplementedError


def outbound_send(*, outbound_id: int) -> None:
    """Send one queued message through the SMS backend. Idempotent."""
    raise NotImplementedError


def delivery_status_apply(*, sid: str, status: str, error_code: str = "", outbound_id: int | None = None) -> bool:
    """Apply a Twilio status callback; monotonic. False when the message is unknown."""
    raise NotImplementedError
