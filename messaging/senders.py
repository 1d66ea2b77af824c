"""Senders (docs/reference.md §8): reading a sender's address, and saving a sender. Pure
checks first (`sender_address_kind`, `messaging_service_sid_problem`), then one service
(`sender_save`), which the `sender_set` command and any later door call."""

from __future__ import annotations

import re
import time

import phonenumbers
from django.conf import settings
from django.db import transaction

from messaging.channels import WHATSAPP_PREFIX
from messaging.models import Sender

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_SHORT_CODE = re.compile(r"[0-9]{5,6}")
_MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")


class SenderInvalid(ValueError):
    """The sender cannot be saved: the reason, in an operator's words."""


def _e164(number: str) -> bool:
    if not _E164.fullmatch(number):
        return False
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return False


def sender_address_kind(address: str) -> str | None:
    """The kind of sender `address` is (an E.164 number, a short code of 5 or 6 digits, or
    ``whatsapp:`` and an E.164 number), or None when it is none of those."""
    if address.startswith(WHATSAPP_PREFIX):
        return Sender.Kind.WHATSAPP if _e164(address[len(WHATSAPP_PREFIX) :]) else None
    if _SHORT_CODE.fullmatch(address):
        return Sender.Kind.SHORT_CODE
    return Sender.Kind.NUMBER if _e164(address) else None


def sender_problem(
    *, address: str, mps: int | None = None, messaging_service_sid: str | None = None, name: str | None = None
) -> str | None:
    """Why a sender with these values cannot be saved, or None."""
    if sender_address_kind(address) is None:
        return (
            f"{address[:60]!r} is not a sender address: an E.164 number (+15017122661), a short "
            "code of 5 or 6 digits (12345) or whatsapp: and an E.164 number (whatsapp:+15017122661)."
        )
    if mps is not None and mps < 0:
        return f"--mps {mps}: a sender's limit is 1 or more messages a second, or 0 for none."
    if messaging_service_sid and not _MESSAGING_SERVICE_SID.fullmatch(messaging_service_sid):
        return f"{messaging_service_sid[:40]!r} is not a Messaging Service SID: MG and 32 hex digits."
    if name is not None and len(name) > 100:
        return "--name: at most 100 characters."
    return None


def sender_save(
    *, address: str, mps: int | None = None, messaging_service_sid: str | None = None, name: str | None = None
) -> Sender:
    """Create the sender at `address`, or update it (idempotent): only what is given
    changes. `mps=0` removes its limit. Raise SenderInvalid, changing nothing."""
    address = address.strip()
    problem = sender_problem(address=address, mps=mps, messaging_service_sid=messaging_service_sid, name=name)
    if problem:
        raise SenderInvalid(problem)
    changes: dict = {"kind": sender_address_kind(address)}
    if mps is not None:
        changes["mps"] = mps or None  # 0: no limit
    if messaging_service_sid is not None:
        changes["messaging_service_sid"] = messaging_service_sid
    if name is not None:
        changes["name"] = name.strip()
    with transaction.atomic():
        sender, _ = Sender.objects.update_or_create(address=address, defaults=changes)
    sender_cache_clear()
    return sender


# --- what the send path reads, per process ----------------------------------------------

# A sender's limit as the send path sees it is at most this old: `sender_set --mps` takes
# effect on every worker within it, without a query per message.
SENDER_CACHE_SECONDS = 10.0
_cache: dict[str, tuple[float, object]] = {}


def _cached(key: str, load):
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < SENDER_CACHE_SECONDS:
        return hit[1]
    value = load()
    _cache[key] = (now, value)
    return value


def sender_rate(*, sender_id: int | None) -> int | None:
    """The segments a second sender `sender_id` may hand Twilio (None: no limit; a message
    with no sender goes from the default, unpaced)."""
    if sender_id is None:
        return None
    return _cached(
        f"rate:{sender_id}", lambda: Sender.objects.filter(pk=sender_id).values_list("mps", flat=True).first()
    )


def sender_default() -> Sender | None:
    """The sender row of the default address (TWILIO_FROM_NUMBER), when an operator added
    one (its limit, its name); None: the default goes unpaced, from the settings."""
    address = settings.TWILIO_FROM_NUMBER
    if not address:
        return None
    return _cached(f"default:{address}", lambda: Sender.objects.filter(address=address).first())


def sender_cache_clear() -> None:
    """Forget what was read (tests; a process that just changed a sender)."""
    _cache.clear()
