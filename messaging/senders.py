"""Senders (docs/reference.md §8): reading a sender's address, saving a sender, and finding
the sender of an address. Pure checks first (`sender_address_kind`, `sender_problem`), then
the services: `sender_save` (the `sender_set` command, the admin), `sender_of_address` and
`sender_by_id` (the webhook, routing, queueing: cached per process, so a known sender costs
no query)."""

from __future__ import annotations

import logging
import re
import threading
import time

import phonenumbers
from django.conf import settings
from django.db import connection, transaction

from messaging.channels import SMS, WHATSAPP, WHATSAPP_PREFIX
from messaging.models import Sender

logger = logging.getLogger(__name__)

# How long a process trusts what it read of a sender: a sender edited or deleted in another
# process (the admin, `sender_set --mps`) is seen within this long.
SENDER_CACHE_SECONDS = 10.0

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


def sender_channel(sender: Sender | None) -> str:
    """The channel messages from `sender` go over (None, the default sender: SMS)."""
    return WHATSAPP if sender is not None and sender.kind == Sender.Kind.WHATSAPP else SMS


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


# --- the sender of an address, cached per process --------------------------------------------

_lock = threading.Lock()
_by_address: dict[str, tuple[float, Sender]] = {}
_by_id: dict[int, tuple[float, Sender]] = {}


def _remember(sender: Sender) -> None:
    at = time.monotonic()
    with _lock:
        _by_address[sender.address] = (at, sender)
        _by_id[sender.pk] = (at, sender)


def _cached(table: dict, key) -> Sender | None:
    entry = table.get(key)
    return entry[1] if entry is not None and time.monotonic() - entry[0] < SENDER_CACHE_SECONDS else None


def sender_cache_clear() -> None:
    """Forget what this process read of senders (a sender saved here; tests: a rolled-back
    database hands the same ids out again)."""
    with _lock:
        _by_address.clear()
        _by_id.clear()
        _defaults.clear()


def sender_of_address(address: str, *, create: bool = False) -> Sender | None:
    """The sender at `address` as Twilio writes it (``+1…``, ``12345``, ``whatsapp:+1…``).
    With `create`, an address of a sender's form that is no sender yet becomes one, with no
    limit (docs/reference.md §8: Twilio only calls us for our own numbers) — race-safe.
    None for an address of no sender's form, or (without `create`) of no sender. Read once
    every SENDER_CACHE_SECONDS per process: a known sender costs no query (the webhook's budget)."""
    address = (address or "").strip()
    sender = _cached(_by_address, address)
    if sender is not None:
        return sender
    kind = sender_address_kind(address)
    if kind is None:
        return None
    sender = Sender.objects.filter(address=address).first()
    if sender is None and create:
        sender, created = Sender.objects.get_or_create(address=address, defaults={"kind": kind})
        if created:
            logger.info("sender %s added: a message came to it", address)
            if connection.in_atomic_block:
                # Kept once the caller's transaction commits: a rollback takes the row away.
                transaction.on_commit(lambda: _remember(sender))
                return sender
    if sender is not None:
        _remember(sender)
    return sender


def sender_by_id(sender_id: int | None) -> Sender | None:
    """The sender with that id (None: the default sender), read once every SENDER_CACHE_SECONDS
    per process."""
    if sender_id is None:
        return None
    sender = _cached(_by_id, sender_id)
    if sender is None:
        sender = Sender.objects.filter(pk=sender_id).first()
        if sender is not None:
            _remember(sender)
    return sender


# --- what the send path reads ------------------------------------------------------------

_defaults: dict[str, tuple[float, Sender | None]] = {}


def sender_rate(*, sender_id: int | None) -> int | None:
    """The segments a second sender `sender_id` may hand Twilio (None: no limit). A text
    with no sender goes from the default: the limit of the default's row, when there is one."""
    sender = sender_by_id(sender_id) if sender_id is not None else sender_default()
    return sender.mps if sender is not None else None


def sender_default() -> Sender | None:
    """The sender row of the default address (TWILIO_FROM_NUMBER), when an operator added
    one (its limit, its name); None: the default goes unpaced, from the settings. Read at
    most once per SENDER_CACHE_SECONDS per process, found or not."""
    address = settings.TWILIO_FROM_NUMBER
    if not address:
        return None
    hit = _defaults.get(address)
    if hit is not None and time.monotonic() - hit[0] < SENDER_CACHE_SECONDS:
        return hit[1]
    sender = sender_of_address(address)
    _defaults[address] = (time.monotonic(), sender)
    return sender
