"""The webhook's step of the inbound pipeline (docs/architecture.md §1): check the payload, store the
message as an inbound Interaction of its contact (created if new) — ONE ``INSERT`` in
autocommit, deduplicated on the MessageSid by the unique constraint — and hand it to the
engine (``automation.engine.inbound``). Stored means committed: the webhook can answer 200
and Twilio will not retry."""

import functools
import json
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from contacts.models import Contact
from contacts.phone import phone_normalize
from contacts.services import contact_new_fields
from infra.metrics import INBOUND, metric_count
from tracking.models import Interaction

MAX_MEDIA = 10  # Twilio sends at most 10 attachments
# How Twilio writes a WhatsApp address: whatsapp:+E164 (messaging.channels has the same rules;
# tracking sits below messaging).
WHATSAPP_PREFIX = f"{Interaction.Channel.WHATSAPP.value}:"


class InboundPayloadError(ValueError):
    """The webhook payload cannot be used; the message says why (short, plain)."""


@dataclass(frozen=True)
class InboundMessage:
    sid: str
    phone: str
    body: str
    media: list[dict]  # [{"url": …, "content_type": …}]
    raw: dict
    from_address: str = ""
    to_address: str = ""
    channel: str = Interaction.Channel.SMS


@dataclass(frozen=True)
class InboundAccepted:
    """What the webhook stored: the inbound Interaction's id; None for a redelivery (the
    MessageSid is known: nothing was stored, nothing happens). `to_address`: the address
    the contact wrote to (our sender, docs/reference.md §8)."""

    interaction_id: int | None
    to_address: str = ""

    @property
    def duplicate(self) -> bool:
        return self.interaction_id is None


def inbound_payload_parse(*, payload: dict) -> InboundMessage:
    """Check and read a Twilio inbound payload; raise InboundPayloadError."""
    sid = _text(payload.get("MessageSid") or "").strip()
    if not sid:
        raise InboundPayloadError("MessageSid is missing.")
    if len(sid) > Interaction._meta.get_field("provider_sid").max_length:
        raise InboundPayloadError("MessageSid is too long.")
    raw_from = _text(payload.get("From") or "").strip()
    if not raw_from:
        raise InboundPayloadError("From is missing.")
    # SMS/MMS: E.164; WhatsApp: whatsapp:+E164 — the contact is the person behind the
    # number whatever the channel (docs/reference.md §3). Short codes and alphanumeric
    # senders are not people we can answer.
    whatsapp = raw_from.startswith(WHATSAPP_PREFIX)
    channel = Interaction.Channel.WHATSAPP if whatsapp else Interaction.Channel.SMS
    number = raw_from[len(WHATSAPP_PREFIX) :] if whatsapp else raw_from
    try:
        if not number.startswith("+"):
            raise ValidationError("not E.164")
        phone = phone_normalize(number, region=None)
    except ValidationError as exc:
        raise InboundPayloadError("From is not a phone number.") from exc
    try:
        num_media = int(payload.get("NumMedia") or 0)
    except (TypeError, ValueError):
        num_media = 0
    media = [
        {
            "url": _text(payload[f"MediaUrl{i}"])[:2000],
            "content_type": _text(payload.get(f"MediaContentType{i}") or "")[:100],
        }
        for i in range(min(max(num_media, 0), MAX_MEDIA))
        if payload.get(f"MediaUrl{i}")
    ]
    raw = {_text(k): _text(v) for k, v in payload.items()}
    address = Interaction._meta.get_field("to_address").max_length
    return InboundMessage(
        sid=sid,
        phone=phone,
        body=_text(payload.get("Body") or ""),
        media=media,
        raw=raw,
        from_address=raw_from[:address],
        to_address=_text(payload.get("To") or "").strip()[:address],
        channel=channel,
    )


def _text(value) -> str:
    """As text a database stores: PostgreSQL refuses NUL characters."""
    return str(value).replace("\x00", "")


# --- the webhook's step: store, then hand over ------------------------------------------


def inbound_message_receive(*, payload: dict) -> InboundAccepted:
    """Store one inbound message (its routing is the caller's: automation.doors.twilio hands it to
    automation.engine.inbound).

    Raises InboundPayloadError (nothing stored) for an unusable payload. A MessageSid seen
    before is a Twilio redelivery: ``InboundAccepted(None)``, nothing changes. Runs in
    autocommit (the webhook has no transaction): when this returns, the message is
    committed."""
    from contacts.services import contact_insert_if_new

    message = inbound_payload_parse(payload=payload)
    interaction_id = inbound_message_store(message=message, created_at=timezone.now())
    if interaction_id is None:
        # The MessageSid is known (a redelivery), or the number is new and this database
        # cannot create its contact in the same statement (or a concurrent first message
        # from it is creating it right now): make sure the contact exists, try once more.
        contact_insert_if_new(phone=message.phone)
        interaction_id = inbound_message_store(message=message, created_at=timezone.now())
        if interaction_id is None:
            return InboundAccepted(None, message.to_address)
    metric_count(INBOUND, str(message.channel))
    return InboundAccepted(interaction_id, message.to_address)


_INSERTED = (
    *("contact", "channel", "direction", "from_address", "to_address", "body"),
    *("media", "provider_sid", "raw_payload", "created_at"),
)


def inbound_message_store(*, message: InboundMessage, created_at) -> int | None:
    """Store the message as an inbound Interaction of the contact with its number, in ONE
    statement: ``INSERT INTO interaction … SELECT <the contact's id>, … ON CONFLICT
    (provider_sid) DO NOTHING RETURNING id``. On PostgreSQL the same statement creates the
    contact when the number is new (a data-modifying CTE). Returns the new row's id; None
    when the MessageSid is known, or when the contact does not exist (yet). Never an error
    for either, so it is safe inside a caller's transaction too.

    Hand-built (docs/architecture.md §4): bench/hand_sql.py, cases 1 and 2, measures it against the ORM's
    way (the contact's id read, then ``Interaction.objects.create``; ``get_or_create`` for
    a new number) — one statement instead of two (four for a new number), a quarter of the
    CPU (222 against 912 µs; an eighth for a new number, 156 against 1,365 µs);
    bench/webhook.py's goal rests on it."""
    # Python values as parameters, adapted by the ORM's raw() (a datetime as the database
    # keeps it); a JSON value as JSON text, the column's own format, cast by the statement.
    values = {
        "channel": str(message.channel),
        "direction": Interaction.Direction.INBOUND.value,
        "from_address": message.from_address,
        "to_address": message.to_address,
        "body": message.body,
        "media": json.dumps(message.media),
        "provider_sid": message.sid,
        "raw_payload": json.dumps(message.raw),
        "created_at": created_at,
    }
    params = [values[n] for n in _INSERTED[1:]]
    if connection.vendor == "postgresql":
        # A new contact: its number and timestamps; every other column has a database default.
        params = [message.phone, message.phone, created_at, created_at, *params]
    else:
        params.append(message.phone)
    stored = list(Interaction.objects.raw(_inbound_insert_sql(connection.vendor), params))
    return stored[0].pk if stored else None


@functools.cache
def _inbound_insert_sql(vendor: str) -> str:
    """The statement of `inbound_message_store`, built once per process from the models."""
    meta, contacts = Interaction._meta, Contact._meta
    qn = connection.ops.quote_name

    def marks(fields) -> str:
        # INSERT … SELECT takes the parameters' types from the SELECT, not from the
        # columns: PostgreSQL needs them spelled out (SQLite has no column types to match).
        return ", ".join(f"%s::{f.db_type(connection)}" if vendor == "postgresql" else "%s" for f in fields)

    fields = [meta.get_field(n) for n in _INSERTED]
    table, c_table = qn(meta.db_table), qn(contacts.db_table)
    phone, pk = qn(contacts.get_field("phone").column), qn(contacts.pk.column)
    columns = ", ".join(qn(f.column) for f in fields)
    conflict = (
        f"ON CONFLICT ({qn(meta.get_field('provider_sid').column)}) DO NOTHING RETURNING {qn(meta.pk.column)}"
    )
    # Identifiers come from the models and are quoted; values are parameters.
    if vendor != "postgresql":
        # SQLite needs the WHERE for its parser to read ON CONFLICT as the upsert clause.
        return (
            f"INSERT INTO {table} ({columns}) SELECT {pk}, {marks(fields[1:])} "  # noqa: S608
            f"FROM {c_table} WHERE {phone} = %s {conflict}"
        )
    c_fields = contact_new_fields()
    # A new number: the contact is inserted unless a concurrent first message from the same
    # number inserted it first (ON CONFLICT: this statement then stores nothing, and the
    # caller tries again once that contact is committed).
    return (
        f"WITH known AS (SELECT {pk} FROM {c_table} WHERE {phone} = %s), "  # noqa: S608
        f"created AS (INSERT INTO {c_table} ({', '.join(qn(f.column) for f in c_fields)}) "
        f"SELECT {marks(c_fields)} WHERE NOT EXISTS (SELECT 1 FROM known) "
        f"ON CONFLICT ({phone}) DO NOTHING RETURNING {pk}) "
        f"INSERT INTO {table} ({columns}) SELECT {pk}, {marks(fields[1:])} "
        f"FROM (SELECT {pk} FROM known UNION ALL SELECT {pk} FROM created) AS contact {conflict}"
    )
