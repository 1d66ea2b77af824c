"""How outbound messages are sent: the knobs (retries, timeouts, guards) and small helpers
shared by queueing, sending and the release job."""

import functools
import time
from datetime import timedelta

from django.conf import settings
from django.urls import reverse

from contacts.models import Contact
from contacts.phone import phone_timezone
from messaging.models import OutboundMessage
from messaging.quiet_hours import quiet_hours_recipient_zone

Purpose = OutboundMessage.Purpose

# Sent even to opted-out contacts (carriers require HELP answers; one confirmation).
ALWAYS_ALLOWED_PURPOSES = {Purpose.HELP, Purpose.OPT_OUT_CONFIRMATION}
# Purposes whose sending starts the enrollment's reply timeout.
PROMPT_PURPOSES = {Purpose.PROMPT, Purpose.REMINDER}

MAX_ATTEMPTS = 8  # then FAILED, error kept
BACKOFF_BASE_SECONDS = 30  # 30 s, 60 s, 2 min, 4 min … (30 s · 2^(attempt-1))
BACKOFF_CAP_SECONDS = 3600
SEND_TIMEOUT_SECONDS = 5.0  # on a worker
EAGER_SEND_TIMEOUT_SECONDS = 2.0  # inside a web request (no broker): one short try
EAGER_PAUSE_SECONDS = 30.0  # after a transient failure in eager mode, don't try inline for a while
RELEASE_GRACE = timedelta(seconds=60)  # a QUEUED message this late has lost its task
SENDING_STALE_AFTER = timedelta(minutes=10)
RELEASE_BATCH = 1000
DUE_TOLERANCE = timedelta(seconds=2)

# Twilio error codes we act on (shared/fixtures/twilio/README.md).
CODE_OPTED_OUT = "21610"
CODES_UNREACHABLE = {"21211", "21614", "21635"}  # invalid To, not SMS-capable, landline


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


def celery_eager() -> bool:
    """Read at call time: tests flip the setting after Celery may have cached its config."""
    return bool(settings.CELERY_TASK_ALWAYS_EAGER) or not settings.CELERY_BROKER_URL


def backoff_seconds(attempts: int) -> int:
    """Delay before the next try after `attempts` failed tries."""
    return min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)


@functools.cache
def _status_path() -> str:
    return reverse("twilio_status")


def status_callback_url(outbound_id: int) -> str:
    if not settings.PUBLIC_BASE_URL:
        return ""
    return f"{settings.PUBLIC_BASE_URL}{_status_path()}?id={outbound_id}"


def contact_tz(contact: Contact) -> str:
    """The contact's timezone, else the one its number implies, else the site's."""
    return quiet_hours_recipient_zone(
        contact_tz=contact.timezone, implied_tz=phone_timezone(contact.phone), site_tz=settings.TIME_ZONE
    )
