"""Tracking services: the inbound message pipeline and goal conversions. Owner: engine (issue 3).

``inbound_message_receive`` is DESIGN §1 in code: one transaction per message, the
contact row locked first, every message an Interaction, compliance keywords before any
plan logic, then the journey engine. Nothing here does network I/O: replies are queued
with ``messaging.services.outbound_queue``, which sends on commit.
"""

import functools
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from contacts.compliance import HELP_KEYWORDS, OPT_IN_KEYWORDS, OPT_OUT_KEYWORDS
from contacts.models import ConsentEvent, Contact
from contacts.phone import phone_normalize
from tracking.models import Goal, GoalConversion, Interaction

logger = logging.getLogger(__name__)

MAX_MEDIA = 10  # Twilio sends at most 10 attachments


class InboundPayloadError(ValueError):
    """The webhook payload cannot be used; the message says why (short, plain)."""


@dataclass(frozen=True)
class InboundMessage:
    sid: str
    phone: str
    body: str
    media_urls: list[str]
    raw: dict


@dataclass
class InboundResult:
    duplicate: bool = False
    contact: Contact | None = None
    interaction: Interaction | None = None


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
    try:
        # Twilio sends E.164; anything else (whatsapp:…, short codes) is not ours to guess.
        if not raw_from.startswith("+"):
            raise ValidationError("not E.164")
        phone = phone_normalize(raw_from, region=None)
    except ValidationError as exc:
        raise InboundPayloadError("From is not a phone number.") from exc
    try:
        num_media = int(payload.get("NumMedia") or 0)
    except (TypeError, ValueError):
        num_media = 0
    media = [
        _text(payload[f"MediaUrl{i}"])
        for i in range(min(max(num_media, 0), MAX_MEDIA))
        if payload.get(f"MediaUrl{i}")
    ]
    raw = {_text(k): _text(v) for k, v in payload.items()}
    return InboundMessage(
        sid=sid, phone=phone, body=_text(payload.get("Body") or ""), media_urls=media, raw=raw
    )


def _text(value) -> str:
    """As text a database stores: PostgreSQL refuses NUL characters."""
    return str(value).replace("\x00", "")


def inbound_message_receive(*, payload: dict) -> InboundResult:
    """Store one inbound message and act on it, in one transaction.

    Raises InboundPayloadError (nothing stored) for an unusable payload. A MessageSid
    seen before is a Twilio retry: ``InboundResult(duplicate=True)``, nothing changes.
    """
    message = inbound_payload_parse(payload=payload)
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _inbound_process(message=message)
        except IntegrityError:
            # The transaction is rolled back whole: nothing of this message is stored.
            # Either the MessageSid is known (a redelivery), or a concurrent first
            # message from the same new number created the contact first: try again.
            if Interaction.objects.filter(provider_sid=message.sid).exists():
                return InboundResult(duplicate=True)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _inbound_process(*, message: InboundMessage) -> InboundResult:
    from automation.matching import reply_normalize
    from automation.services.engine import enrollment_route
    from contacts.services import contact_get_or_create_locked, contact_opt_in, contact_opt_out
    from messaging.services import outbound_queue

    now = timezone.now()
    contact, created = contact_get_or_create_locked(phone=message.phone, inbound_at=now, savepoint=False)
    interaction = Interaction.objects.create(
        contact=contact,
        direction=Interaction.Direction.INBOUND,
        body=message.body,
        media_urls=message.media_urls,
        provider_sid=message.sid,
        raw_payload=message.raw,
        created_at=now,
    )
    result = InboundResult(contact=contact, interaction=interaction)
    normalized = reply_normalize(message.body)

    def reply(text: str, purpose: str) -> None:
        outbound_queue(contact=contact, body=text, purpose=purpose, answers_contact=True)

    if normalized in OPT_OUT_KEYWORDS:
        changed = contact_opt_out(contact=contact, source=ConsentEvent.Source.KEYWORD, detail=normalized)
        if changed and settings.SMS_OPT_OUT_CONFIRMATION:
            reply(settings.SMS_OPT_OUT_CONFIRMATION, "opt_out_confirmation")
        return result
    if normalized in HELP_KEYWORDS:
        reply(settings.SMS_HELP_TEXT, "help")
        return result
    if contact.opted_out:
        if normalized in OPT_IN_KEYWORDS:
            contact_opt_in(contact=contact, source=ConsentEvent.Source.KEYWORD, detail=normalized)
        # Opted out (or just back in): the message is recorded, nothing else happens.
        return result
    enrollment_route(contact=contact, interaction=interaction, normalized=normalized, new_contact=created)
    return result


def goal_convert(
    *,
    contact: Contact,
    goal: Goal,
    enrollment=None,
    interaction: Interaction | None = None,
    known_new: bool = False,
) -> GoalConversion | None:
    """Record that `contact` reached `goal` (once per enrollment and goal) and add the
    goal's points to the contact's engagement value. None when already converted.

    Call it with the contact row locked. With an enrollment, the unique constraint on
    (enrollment, goal) decides in the INSERT itself (``ON CONFLICT DO NOTHING``): one
    statement, no separate check. `known_new` is accepted for compatibility (the caller
    knows it is new); the INSERT is the same."""
    occurred_at = interaction.created_at if interaction is not None else timezone.now()
    values = {
        "contact_id": contact.pk,
        "goal_id": goal.pk,
        "enrollment_id": enrollment.pk if enrollment is not None else None,
        "interaction_id": interaction.pk if interaction is not None else None,
        "points": goal.points,
        "occurred_at": occurred_at,
    }
    if enrollment is None:
        conversion = GoalConversion.objects.create(**values)
    else:
        pk = _goal_conversion_insert_once(values)
        if pk is None:
            return None
        conversion = GoalConversion(pk=pk, **values)
        conversion._state.adding = False
    if goal.points:
        _engagement_add(contact_id=contact.pk, points=goal.points)
        contact.engagement_value += goal.points  # the in-memory copy follows (caller holds the lock)
    return conversion


def _engagement_add(*, contact_id: int, points: int) -> None:
    """``UPDATE … SET engagement_value = engagement_value + points`` (as
    ``update(engagement_value=F(...) + points)`` would, without compiling it each time)."""
    with connection.cursor() as cursor:
        cursor.execute(_engagement_add_sql(connection.vendor), [points, contact_id])


@functools.cache
def _engagement_add_sql(vendor: str) -> str:
    qn = connection.ops.quote_name
    meta = Contact._meta
    column = qn(meta.get_field("engagement_value").column)
    return f"UPDATE {qn(meta.db_table)} SET {column} = {column} + %s WHERE {qn(meta.pk.column)} = %s"  # noqa: S608


_CONVERSION_FIELDS = ("contact", "goal", "enrollment", "interaction", "points", "occurred_at")


@functools.cache
def _goal_conversion_insert_sql(vendor: str) -> str:
    meta = GoalConversion._meta
    qn = connection.ops.quote_name
    columns = ", ".join(qn(meta.get_field(n).column) for n in _CONVERSION_FIELDS)
    conflict = ", ".join(qn(meta.get_field(n).column) for n in ("enrollment", "goal"))
    marks = ", ".join(["%s"] * len(_CONVERSION_FIELDS))
    # Identifiers come from the model and are quoted; values are parameters.
    return (
        f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES ({marks}) "  # noqa: S608
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {qn(meta.pk.column)}"
    )


def _goal_conversion_insert_once(values: dict) -> int | None:
    """``INSERT … ON CONFLICT (enrollment_id, goal_id) DO NOTHING RETURNING id`` (PostgreSQL,
    SQLite ≥ 3.35): the new row's id, or None when this enrollment converted the goal before."""
    occurred_at = GoalConversion._meta.get_field("occurred_at").get_db_prep_save(
        values["occurred_at"], connection
    )
    params = [values[f"{n}_id"] for n in _CONVERSION_FIELDS[:4]] + [values["points"], occurred_at]
    with connection.cursor() as cursor:
        cursor.execute(_goal_conversion_insert_sql(connection.vendor), params)
        row = cursor.fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class SimulatedReply:
    body: str
    purpose: str
    status: str  # queued (would be sent now) or held (quiet hours)
    send_after: object = None


def inbound_message_simulate(*, phone: str, body: str) -> list[SimulatedReply]:
    """Run the inbound pipeline for one message from `phone` (E.164) and return what the
    contact would be sent back. Everything happens in a transaction that is rolled back:
    nothing is stored, and the sends (queued on commit) never run."""
    from messaging.models import OutboundMessage

    message = InboundMessage(
        sid=f"SIMULATED{uuid.uuid4().hex}", phone=phone, body=body, media_urls=[], raw={"Body": body}
    )
    with transaction.atomic():
        result = _inbound_process(message=message)
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
