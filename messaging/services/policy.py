"""How outbound messages are sent: the knobs (retries, timeouts, guards) and small helpers
shared by queueing, sending and the release job."""

import functools
import random
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.urls import reverse

from contacts.models import Contact
from contacts.phone import phone_place, phone_timezone
from messaging.models import OutboundMessage
from messaging.quiet_hours import quiet_hours_recipient_zone

Purpose = OutboundMessage.Purpose

# Sent even to opted-out contacts (carriers require HELP answers; one confirmation).
ALWAYS_ALLOWED_PURPOSES = {Purpose.HELP, Purpose.OPT_OUT_CONFIRMATION}
# Purposes whose sending starts the enrollment's reply timeout.
PROMPT_PURPOSES = {Purpose.PROMPT, Purpose.REMINDER}

# Transient errors (429, 5xx, timeouts) are retried at conversation speed: about 1 s, 2 s,
# 4 s … (each with jitter, never sooner than Twilio's Retry-After), at most 5 min apart,
# then FAILED with the error kept — within about 4 to 8 minutes of the first try.
MAX_ATTEMPTS = 10
BACKOFF_BASE_SECONDS = 1.0  # a reply to the contact's own message
BACKOFF_BASE_OTHER_SECONDS = 2.0  # plan and bulk messages wait a little longer: replies first
BACKOFF_CAP_SECONDS = 300.0
# Broker priorities (Redis: 0 is the highest): a reply goes ahead of plan and bulk messages.
REPLY_PRIORITY = 0
OTHER_PRIORITY = 6
SEND_TIMEOUT_SECONDS = 5.0  # on a worker
EAGER_SEND_TIMEOUT_SECONDS = 2.0  # inside a web request (no broker): one short try
EAGER_PAUSE_SECONDS = 30.0  # after a transient failure in eager mode, don't try inline for a while
SENDING_STALE_AFTER = timedelta(minutes=10)
RELEASE_BATCH = 1000
RELEASE_MAX_BATCHES = 200  # held texts released per run at most: 200,000
DUE_TOLERANCE = timedelta(milliseconds=50)  # a retry that fires this early is sent

# Twilio error codes we act on (shared/fixtures/twilio/README.md).
CODE_OPTED_OUT = "21610"
CODES_UNREACHABLE = {"21211", "21614", "21635"}  # invalid To, not SMS-capable, landline
# Twilio says slow down: the sender gets no slot for a while (its Retry-After, else 1 s).
SLOW_DOWN_CODES = {"429", "20429", "63018"}  # too many requests; WhatsApp's rate limit


class _EagerPause:
    """In-process sending (no broker) stops for a while after the provider failed, so that
    the next webhooks do not each wait on a dead API. A process-wide circuit breaker on the
    monotonic clock (time travel in tests does not move it)."""

    until = 0.0

    def trip(self) -> None:
        self.until = time.monotonic() + EAGER_PAUSE_SECONDS

    def active(self) -> bool:
        return time.monotonic() < self.until

    def reset(self) -> None:
        self.until = 0.0


eager_pause = _EagerPause()


@dataclass(frozen=True)
class RetryLater:
    """A transient error left the message queued: try again in `seconds`, at `priority`."""

    seconds: float
    priority: int


def send_priority(answers_contact: bool) -> int:
    return REPLY_PRIORITY if answers_contact else OTHER_PRIORITY


def backoff_seconds(
    attempts: int, *, answers_contact: bool = True, retry_after: float | None = None, rng=random
) -> float:
    """Delay before the next try after `attempts` failed tries: exponential from about 1 s
    (2 s for messages that do not answer the contact), with "equal jitter" (half the step
    fixed, half random, so retries of many messages spread out), never sooner than the
    provider's Retry-After, capped at BACKOFF_CAP_SECONDS."""
    base = BACKOFF_BASE_SECONDS if answers_contact else BACKOFF_BASE_OTHER_SECONDS
    step = min(base * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)
    delay = step / 2 + rng.uniform(0, step / 2)
    if retry_after:
        delay = max(delay, min(float(retry_after), BACKOFF_CAP_SECONDS))
    return round(delay, 3)


@functools.cache
def _status_path() -> str:
    return reverse("twilio_status")


def status_callback_url(outbound_id: int) -> str:
    if not settings.PUBLIC_BASE_URL:
        return ""
    return f"{settings.PUBLIC_BASE_URL}{_status_path()}?id={outbound_id}"


def contact_state(contact: Contact) -> str | None:
    """The contact's US state (USPS code): their own (`attributes.state`, e.g. "FL") when it
    is one, else the one their number's area code is in; None when neither says."""
    from messaging.state_hours import CODES, state_of

    own = str((contact.attributes or {}).get("state") or "").strip().upper()
    if own in CODES:
        return own
    return state_of(phone_place(contact.phone)) if contact.phone.startswith("+1") else None


def contact_tz(contact: Contact) -> str:
    """The contact's timezone, else the one its number implies, else the site's."""
    return quiet_hours_recipient_zone(
        contact_tz=contact.timezone, implied_tz=phone_timezone(contact.phone), site_tz=settings.TIME_ZONE
    )
