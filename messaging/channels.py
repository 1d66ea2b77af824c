"""Channels (docs/reference.md §3, §8): SMS and WhatsApp over the same Twilio webhook and
REST client. Pure functions only: what an address says, and WhatsApp's 24-hour window.

An address as Twilio writes it: ``+15017122661`` (SMS/MMS), ``12345`` (a short code) or
``whatsapp:+15017122661``. A contact is the person: one contact per E.164 number whatever
the channel; each message keeps its channel.
"""

from __future__ import annotations

from datetime import datetime, timedelta

WHATSAPP_PREFIX = "whatsapp:"
SMS = "sms"
WHATSAPP = "whatsapp"
# WhatsApp's customer-service window: free text only this long after the contact's last
# WhatsApp message; after it, only an approved template (else Twilio's 63016).
WHATSAPP_WINDOW = timedelta(hours=24)
CODE_OUTSIDE_WINDOW = "63016"


def address_channel(address: str) -> str:
    """The channel an address belongs to: ``whatsapp`` for ``whatsapp:+…``, else ``sms``."""
    return WHATSAPP if address.startswith(WHATSAPP_PREFIX) else SMS


def address_number(address: str) -> str:
    """The phone number (or short code) behind an address: ``whatsapp:+1…`` → ``+1…``."""
    return address[len(WHATSAPP_PREFIX) :] if address.startswith(WHATSAPP_PREFIX) else address


def channel_address(*, channel: str, number: str) -> str:
    """A number as Twilio writes it on `channel`: ``whatsapp:+1…`` on WhatsApp."""
    return f"{WHATSAPP_PREFIX}{number}" if channel == WHATSAPP else number


def whatsapp_window_open(*, last_whatsapp_at: datetime | None, now: datetime) -> bool:
    """Whether free text may go over WhatsApp: the contact wrote on WhatsApp within the
    last 24 hours (never wrote: closed)."""
    return last_whatsapp_at is not None and now - last_whatsapp_at < WHATSAPP_WINDOW
