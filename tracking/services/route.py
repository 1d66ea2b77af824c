"""The engine's step of the inbound pipeline (DESIGN §1), on a worker (in the request when
no broker is configured): one transaction per message that claims it (``routed_at``, so a
redelivered task routes nothing twice) and locks the contact row first, then compliance
keywords before any plan logic, then the journey engine. Nothing here does network I/O:
replies are queued with ``messaging.services.outbound_queue``, which sends on commit.

``inbound_route_due`` (beat, every minute; ``route_waiting_messages``) routes what no
worker took: a message stored while the broker was down, or whose worker died mid-way."""

import functools
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from contacts.compliance import HELP_KEYWORDS, OPT_IN_KEYWORDS, OPT_OUT_KEYWORDS
from contacts.models import ConsentEvent, Contact
from tracking.models import Interaction

logger = logging.getLogger(__name__)

# A stored message no worker has routed after this long is routed by the sweeper.
ROUTE_GRACE = timedelta(seconds=60)
# ... unless it is older than this: it failed to route for a day, a person must look.
ROUTE_GIVE_UP = timedelta(days=1)
ROUTE_BATCH = 500


@dataclass
class InboundResult:
    """What routing one message did: the (locked) contact and the inbound interaction."""

    contact: Contact
    interaction: Interaction


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
    # Twilio's Advanced Opt-Out recognised a keyword of any language: act on it as on ours.
    raw = interaction.raw_payload if isinstance(interaction.raw_payload, dict) else {}
    opt_out_type = str(raw.get("OptOutType") or "").strip().upper()
    detail = f"{normalized} (OptOutType {opt_out_type})" if opt_out_type else normalized

    def reply(text: str, purpose: str) -> None:
        outbound_queue(contact=contact, body=text, purpose=purpose, answers_contact=True)

    if normalized in OPT_OUT_KEYWORDS or opt_out_type == "STOP":
        changed = contact_opt_out(contact=contact, source=ConsentEvent.Source.KEYWORD, detail=detail)
        if changed and settings.SMS_OPT_OUT_CONFIRMATION:
            reply(settings.SMS_OPT_OUT_CONFIRMATION, "opt_out_confirmation")
        return
    if normalized in HELP_KEYWORDS or opt_out_type == "HELP":
        reply(settings.SMS_HELP_TEXT, "help")
        return
    if contact.opted_out:
        if normalized in OPT_IN_KEYWORDS or opt_out_type == "START":
            contact_opt_in(contact=contact, source=ConsentEvent.Source.KEYWORD, detail=detail)
        # Opted out (or just back in): the message is recorded, nothing else happens.
        return
    enrollment_route(contact=contact, interaction=interaction, normalized=normalized, token=token)


_CLAIMED = (  # every column: the loaded Interaction has no deferred field
    *("id", "contact", "channel", "direction", "from_address", "to_address", "body", "media"),
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
