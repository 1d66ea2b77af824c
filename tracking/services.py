"""Tracking services: the inbound message pipeline and goal conversions. Owner: engine (issue 3).

DESIGN §1 in code, in two steps:

- ``inbound_message_receive`` — the webhook's service. It checks the payload and stores
  the message as an inbound Interaction on its contact (created if new): ONE ``INSERT``
  in autocommit for a known number, deduplicated on the MessageSid by the unique
  constraint. Stored means committed: the webhook can say 200 and Twilio will not retry.
  It then hands the message to the journey engine — a Celery worker when a broker is
  configured, else right here, in-process, as before.
- ``inbound_message_route`` — the engine's entry, on the worker: one transaction per
  message that claims it (``routed_at``, so a redelivered task routes nothing twice) and
  locks the contact row first, then compliance keywords before any plan logic, then the
  journey engine. Nothing here does network I/O: replies are queued with
  ``messaging.services.outbound_queue``, which sends on commit.

``inbound_route_due`` (beat, every minute) routes what no worker took: a message stored
while the broker was down, or whose worker died mid-way. A message is never lost.
"""

import functools
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection, transaction
from django.db.models import NOT_PROVIDED
from django.utils import timezone

from contacts.compliance import HELP_KEYWORDS, OPT_IN_KEYWORDS, OPT_OUT_KEYWORDS
from contacts.models import ConsentEvent, Contact
from contacts.phone import phone_normalize
from tracking.models import Goal, GoalConversion, Interaction

logger = logging.getLogger(__name__)

MAX_MEDIA = 10  # Twilio sends at most 10 attachments
# A stored message no worker has routed after this long is routed by the sweeper.
ROUTE_GRACE = timedelta(seconds=60)
# ... unless it is older than this: it failed to route for a day, a person must look.
ROUTE_GIVE_UP = timedelta(days=1)
ROUTE_BATCH = 500


class InboundPayloadError(ValueError):
    """The webhook payload cannot be used; the message says why (short, plain)."""


@dataclass(frozen=True)
class InboundMessage:
    sid: str
    phone: str
    body: str
    media_urls: list[str]
    raw: dict


@dataclass(frozen=True)
class InboundAccepted:
    """What the webhook stored: the inbound Interaction's id; None for a redelivery (the
    MessageSid is known: nothing was stored, nothing happens)."""

    interaction_id: int | None

    @property
    def duplicate(self) -> bool:
        return self.interaction_id is None


@dataclass
class InboundResult:
    """What routing one message did: the (locked) contact and the inbound interaction."""

    contact: Contact
    interaction: Interaction


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


# --- the webhook's step: store, then hand over ------------------------------------------


def inbound_message_receive(*, payload: dict, route_now: bool = False) -> InboundAccepted:
    """Store one inbound message and hand it to the journey engine.

    Raises InboundPayloadError (nothing stored) for an unusable payload. A MessageSid seen
    before is a Twilio redelivery: ``InboundAccepted(None)``, nothing changes. Runs in
    autocommit (the webhook has no transaction): when this returns, the message is
    committed. `route_now`: route it here, whatever the broker (the admin's simulator)."""
    from contacts.services import contact_insert_if_new

    message = inbound_payload_parse(payload=payload)
    interaction_id = _inbound_insert(message=message, created_at=timezone.now())
    if interaction_id is None:
        # The MessageSid is known (a redelivery), or the number is new and this database
        # cannot create its contact in the same statement (or a concurrent first message
        # from it is creating it right now): make sure the contact exists, try once more.
        contact_insert_if_new(phone=message.phone)
        interaction_id = _inbound_insert(message=message, created_at=timezone.now())
        if interaction_id is None:
            return InboundAccepted(None)
    if route_now:
        inbound_message_route(interaction_id=interaction_id)
    else:
        inbound_route_enqueue(interaction_id=interaction_id)
    return InboundAccepted(interaction_id)


_INSERTED = (
    *("contact", "channel", "direction", "body"),
    *("media_urls", "provider_sid", "raw_payload", "created_at"),
)


def _inbound_insert(*, message: InboundMessage, created_at) -> int | None:
    """Store the message as an inbound Interaction of the contact with its number, in ONE
    statement: ``INSERT INTO interaction … SELECT <the contact's id>, … ON CONFLICT
    (provider_sid) DO NOTHING RETURNING id``. On PostgreSQL the same statement creates the
    contact when the number is new (a data-modifying CTE). Returns the new row's id; None
    when the MessageSid is known, or when the contact does not exist (yet). Never an error
    for either, so it is safe inside a caller's transaction too."""
    meta = Interaction._meta
    values = {
        "channel": Interaction.Channel.SMS.value,
        "direction": Interaction.Direction.INBOUND.value,
        "body": message.body,
        "media_urls": message.media_urls,
        "provider_sid": message.sid,
        "raw_payload": message.raw,
        "created_at": created_at,
    }
    params = [meta.get_field(n).get_db_prep_save(values[n], connection) for n in _INSERTED[1:]]
    if connection.vendor == "postgresql":
        # A new contact: its number and timestamps; every other column has a database default.
        params = [message.phone, message.phone, params[-1], params[-1], *params]
    else:
        params.append(message.phone)
    with connection.cursor() as cursor:
        cursor.execute(_inbound_insert_sql(connection.vendor), params)
        row = cursor.fetchone()
    return row[0] if row else None


# What the statement writes into a new contact's row; the model gives every other column a
# database default (db_default) or lets it be NULL.
_NEW_CONTACT = ("phone", "created_at", "updated_at")


def _new_contact_fields() -> list:
    fields = [Contact._meta.get_field(n) for n in _NEW_CONTACT]
    left = [
        f.name
        for f in Contact._meta.local_concrete_fields
        if f not in fields and not f.primary_key and not f.null and f.db_default is NOT_PROVIDED
    ]
    if left:  # a new column without a database default: the statement would not know its value
        raise ImproperlyConfigured(f"Contact fields {left} need a db_default (see tracking.services).")
    return fields


@functools.cache
def _inbound_insert_sql(vendor: str) -> str:
    """The statement of `_inbound_insert`, built once per process from the models."""
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
    c_fields = _new_contact_fields()
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


def inbound_route_enqueue(*, interaction_id: int) -> None:
    """Hand a stored message to the engine: a Celery task when a broker is configured, else
    route it here. Never raises: whatever is not routed now, the sweeper routes later."""
    from messaging.services.policy import celery_eager
    from tracking.tasks import inbound_route_task

    try:
        if celery_eager():
            inbound_message_route(interaction_id=interaction_id)
        else:
            inbound_route_task.apply_async(args=(interaction_id,))
    except Exception:
        logger.exception("inbound %s not routed now; the sweeper routes it within minutes", interaction_id)


# --- the engine's step: one transaction per message --------------------------------------


def inbound_message_route(*, interaction_id: int) -> InboundResult | None:
    """Route one stored inbound message through compliance and the journey engine, in one
    transaction that claims the message and locks its contact's row first. None when it
    was routed already (a redelivered task, the sweeper racing a slow worker)."""
    with transaction.atomic():
        claimed = _inbound_claim(interaction_id=interaction_id, now=timezone.now())
        if claimed is None:
            return None
        contact, interaction, token = claimed
        _route(contact=contact, interaction=interaction, token=token)
    return InboundResult(contact=contact, interaction=interaction)


def _route(*, contact: Contact, interaction: Interaction, token: int | None = None) -> None:
    """Compliance keywords first, then the journey engine (caller: contact row locked)."""
    from automation.matching import reply_normalize
    from automation.services.engine import enrollment_route
    from contacts.services import contact_opt_in, contact_opt_out
    from messaging.services import outbound_queue

    normalized = reply_normalize(interaction.body)

    def reply(text: str, purpose: str) -> None:
        outbound_queue(contact=contact, body=text, purpose=purpose, answers_contact=True)

    if normalized in OPT_OUT_KEYWORDS:
        changed = contact_opt_out(contact=contact, source=ConsentEvent.Source.KEYWORD, detail=normalized)
        if changed and settings.SMS_OPT_OUT_CONFIRMATION:
            reply(settings.SMS_OPT_OUT_CONFIRMATION, "opt_out_confirmation")
        return
    if normalized in HELP_KEYWORDS:
        reply(settings.SMS_HELP_TEXT, "help")
        return
    if contact.opted_out:
        if normalized in OPT_IN_KEYWORDS:
            contact_opt_in(contact=contact, source=ConsentEvent.Source.KEYWORD, detail=normalized)
        # Opted out (or just back in): the message is recorded, nothing else happens.
        return
    enrollment_route(contact=contact, interaction=interaction, normalized=normalized, token=token)


_CLAIMED = (  # every column: the loaded Interaction has no deferred field
    *("id", "contact", "channel", "direction", "body", "media_urls"),
    *("provider_sid", "enrollment", "raw_payload", "routed_at", "created_at"),
)


def _inbound_claim(*, interaction_id: int, now) -> tuple[Contact, Interaction, int | None] | None:
    """Inside the route's transaction: mark the message routed, lock its contact's row (an
    UPDATE of last_inbound_at takes the lock a SELECT … FOR UPDATE would) and return the
    contact, the message and the plan graph's token (automation.graph). None when the
    message was routed already. PostgreSQL does it in ONE statement (a data-modifying
    CTE); other databases in two."""
    i_fields = [Interaction._meta.get_field(n) for n in _CLAIMED]
    c_fields = Contact._meta.concrete_fields
    stamp = Interaction._meta.get_field("routed_at").get_db_prep_save(now, connection)
    statements = _claim_sql(connection.vendor)
    with connection.cursor() as cursor:
        if len(statements) == 1:
            cursor.execute(statements[0], [stamp, interaction_id, stamp])
            row = cursor.fetchone()
            if row is None:
                return None
            i_values, c_values, token = row[: len(i_fields)], row[len(i_fields) : -1], row[-1]
        else:
            cursor.execute(statements[0], [stamp, interaction_id])
            i_values = cursor.fetchone()
            if i_values is None:
                return None
            contact_id, created_at = i_values[1], i_values[-1]
            cursor.execute(statements[1], [created_at, created_at, stamp, contact_id])
            *c_values, token = cursor.fetchone()
    db = connection.alias
    contact = Contact.from_db(db, [f.attname for f in c_fields], _loaded(c_fields, c_values))
    interaction = Interaction.from_db(db, [f.attname for f in i_fields], _loaded(i_fields, i_values))
    return contact, interaction, token


def _loaded(fields, values) -> list:
    """Raw column values as the ORM loads them (its converters: JSON, datetimes, booleans)."""
    out = []
    for field, value in zip(fields, values, strict=True):
        col = field.get_col(field.model._meta.db_table)  # what a queryset's compiler converts by
        for converter in connection.ops.get_db_converters(col) + col.get_db_converters(connection):
            value = converter(value, col, connection)
        out.append(value)
    return out


@functools.cache
def _claim_sql(vendor: str) -> tuple[str, ...]:
    """The statement(s) of `_inbound_claim`, built once per process from the models."""
    from automation.models import PlanGraphStamp

    qn = connection.ops.quote_name
    i_meta, c_meta, s_meta = Interaction._meta, Contact._meta, PlanGraphStamp._meta
    i_table, c_table = qn(i_meta.db_table), qn(c_meta.db_table)
    i_cols = [qn(i_meta.get_field(n).column) for n in _CLAIMED]
    c_cols = [qn(f.column) for f in c_meta.concrete_fields]
    routed, direction = (qn(i_meta.get_field(n).column) for n in ("routed_at", "direction"))
    contact_id, created = i_cols[1], i_cols[-1]
    last, updated = (qn(c_meta.get_field(n).column) for n in ("last_inbound_at", "updated_at"))
    c_pk = qn(c_meta.pk.column)
    # Identifiers come from the models and are quoted; values are parameters.
    token = f"(SELECT {qn('token')} FROM {qn(s_meta.db_table)} WHERE {qn('id')} = 1)"  # noqa: S608
    claim = (
        f"UPDATE {i_table} SET {routed} = %s WHERE {qn(i_meta.pk.column)} = %s "  # noqa: S608
        f"AND {direction} = 'inbound' AND {routed} IS NULL RETURNING {', '.join(i_cols)}"
    )
    if vendor == "postgresql":
        # last_inbound_at never moves backwards (GREATEST skips a NULL).
        return (
            f"WITH claimed AS ({claim}) "  # noqa: S608
            f"UPDATE {c_table} SET {last} = GREATEST({c_table}.{last}, claimed.{created}), {updated} = %s "
            f"FROM claimed WHERE {c_table}.{c_pk} = claimed.{contact_id} "
            f"RETURNING {', '.join(f'claimed.{c}' for c in i_cols)}, "
            f"{', '.join(f'{c_table}.{c}' for c in c_cols)}, {token}",
        )
    touch = (
        f"UPDATE {c_table} SET {last} = CASE WHEN {last} IS NULL OR {last} < %s THEN %s ELSE {last} END, "  # noqa: S608
        f"{updated} = %s WHERE {c_pk} = %s RETURNING {', '.join(c_cols)}, {token}"
    )
    return claim, touch


# --- the sweeper --------------------------------------------------------------------------


def inbound_route_due(*, now=None, batch_size: int = ROUTE_BATCH) -> int:
    """Route the stored inbound messages no worker took within ROUTE_GRACE (the broker was
    down when they came, or a worker died): the oldest first, each in its own transaction.
    Returns how many it routed. Safe beside workers: a message is claimed once."""
    now = now or timezone.now()
    waiting = list(
        Interaction.objects.filter(
            direction=Interaction.Direction.INBOUND,
            routed_at__isnull=True,
            created_at__lte=now - ROUTE_GRACE,
            created_at__gte=now - ROUTE_GIVE_UP,
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:batch_size]
    )
    routed = 0
    for pk in waiting:
        try:
            routed += inbound_message_route(interaction_id=pk) is not None
        except Exception:
            logger.exception("inbound %s could not be routed; tried again next run", pk)
    if waiting:
        logger.warning("sweeper: %d of %d waiting inbound messages routed", routed, len(waiting))
    return routed


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
    from contacts.services import contact_insert_if_new
    from messaging.models import OutboundMessage

    message = InboundMessage(
        sid=f"SIMULATED{uuid.uuid4().hex}", phone=phone, body=body, media_urls=[], raw={"Body": body}
    )
    with transaction.atomic():
        contact_insert_if_new(phone=phone)
        interaction_id = _inbound_insert(message=message, created_at=timezone.now())
        result = inbound_message_route(interaction_id=interaction_id)
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
