"""WhatsApp's 24-hour window (docs/reference.md §8), where it meets the database: free text
goes only within 24 hours of the contact's last WhatsApp message; after that only an
approved template (the step's ``whatsapp_template``, sent as Twilio's ``ContentSid`` and
``ContentVariables``), else the message ends ``failed`` with Twilio's own code, 63016,
without calling Twilio. Checked when a message is queued (``outbound_queue``) and again
when it is sent (``outbound_send``: a text held for quiet hours may be released after the
window closed). The pure rules are ``messaging.channels``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from infra.metrics import OUTBOUND, metric_count
from messaging.channels import CODE_OUTSIDE_WINDOW, WHATSAPP, whatsapp_window_open
from messaging.models import DeliveryStatus, OutboundMessage
from messaging.rendering import sms_body_render
from tracking.models import Interaction

OUTSIDE_WINDOW = (
    "Not sent: WhatsApp allows free text only within 24 hours of the contact's last WhatsApp "
    "message, and there is no WhatsApp template to send instead."
)


def contact_whatsapp_window_open(*, contact_id: int, at: datetime) -> bool:
    """Whether free text may go to the contact over WhatsApp at `at` (one indexed query)."""
    last = (
        Interaction.objects.filter(
            contact_id=contact_id,
            direction=Interaction.Direction.INBOUND,
            channel=Interaction.Channel.WHATSAPP,
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return whatsapp_window_open(last_whatsapp_at=last, now=at)


def free_text_allowed(*, channel: str, contact_id: int, at: datetime) -> bool:
    """Whether a message may go as free text at `at`: over SMS always, over WhatsApp within
    the 24-hour window."""
    return channel != WHATSAPP or contact_whatsapp_window_open(contact_id=contact_id, at=at)


def whatsapp_template_render(*, template: Mapping[str, Any], context: dict) -> tuple[str, dict[str, str]]:
    """A step's ``whatsapp_template`` for one contact: its Content SID and each variable
    rendered over the same plain context as texts (``RenderError`` as for a text)."""
    variables = template.get("variables") or {}
    rendered = {str(k): sms_body_render(template=str(v), context=context) for k, v in variables.items()}
    return str(template.get("content_sid") or ""), rendered


def outbound_outside_window_fail(*, outbound_id: int, now: datetime | None = None) -> bool:
    """At send time: the window closed while the message waited, and it has no template to
    go as. It ends ``failed`` (63016), never handed to Twilio. False when it was not queued
    or handed over any more (another task took it)."""
    now = now or timezone.now()
    failed = bool(
        OutboundMessage.objects.filter(
            Q(status=DeliveryStatus.QUEUED) | Q(status=DeliveryStatus.SENDING, lease_until__isnull=False),
            pk=outbound_id,
        ).update(
            status=DeliveryStatus.FAILED,
            lease_until=None,
            error_code=CODE_OUTSIDE_WINDOW,
            error_message=OUTSIDE_WINDOW,
            status_updated_at=now,
        )
    )
    if failed:
        metric_count(OUTBOUND, "failed")
    return failed
