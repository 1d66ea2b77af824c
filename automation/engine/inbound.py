"""Routing a stored inbound message (docs/architecture.md §1), on a worker (in the request when no broker
is configured) — automation orchestrates: tracking stored the message, contacts keeps the
consent, messaging queues the replies, the engine moves the enrollments. One transaction
per message that locks the contact row first and claims the message (``routed_at``, so a
redelivered task routes nothing twice), then compliance
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
from django.db.models import Case, F, Value, When
from django.utils import timezone

from automation.engine.consent import contact_opt_out
from automation.engine.routing import enrollment_route
from automation.flow.matching import reply_normalize
from automation.locks import contact_lock_for_inbound
from contacts.compliance import Intent, compliance_intent
from contacts.models import ConsentEvent, Contact
from contacts.services import contact_consent_record, contact_opt_in
from infra.background import eager
from infra.logs import log_context
from infra.metrics import reply_clock
from messaging.senders import sender_of_address
from messaging.services import outbound_queue
from tracking.models import Interaction

logger = logging.getLogger(__name__)

# A stored message no worker has routed after this long is routed by the sweeper.
ROUTE_GRACE = timedelta(seconds=60)
# ... unless it is older than this: it failed to route for a day, a person must look.
ROUTE_GIVE_UP = timedelta(days=1)
ROUTE_BATCH = 500
# A message whose routing raised this many times is left for a person (route_failed_at).
MAX_ROUTE_ATTEMPTS = 3


@dataclass
class InboundResult:
    """What routing one message did: the (locked) contact and the inbound interaction."""

    contact: Contact
    interaction: Interaction


def inbound_route_enqueue(*, interaction_id: int) -> None:
    """Hand a stored message to the engine: a Celery task when a broker is configured, else
    route it here. Never raises: whatever is not routed now, the sweeper routes later."""
    from automation.tasks import inbound_route_task

    try:
        if eager():
            inbound_message_route(interaction_id=interaction_id)
        else:
            inbound_route_task.apply_async(args=(interaction_id,))
    except Exception:
        logger.exception("inbound %s not routed now; the sweeper routes it within minutes", interaction_id)


# --- the engine's step: one transaction per contact's waiting messages -------------------


def inbound_message_route(*, interaction_id: int) -> InboundResult | None:
    """Route one stored inbound message through compliance and the journey engine.

    One transaction that locks the message's contact first (the one lock order:
    ``automation.locks``), then claims every message of that contact still waiting up to
    this one and routes them in arrival order — so a contact's messages are judged in the
    order they came, whatever the number of workers:
    a worker holding an older message holds the contact, and the younger one waits for it;
    a younger message whose older one is still queued routes the older one first.

    None when this message was routed already (a redelivered task, the sweeper racing a
    slow worker) or was given up. A message whose routing raises is not lost and does not
    stall its contact forever: the transaction rolls back, the failure is counted on that
    message, and after MAX_ROUTE_ATTEMPTS tries it is left for a person (``route_failed_at``;
    the admin filters on it) and the contact's later messages go on."""
    for _ in range(MAX_ROUTE_ATTEMPTS + 1):
        current: list[Interaction] = []
        try:
            with transaction.atomic():
                locked = contact_lock_for_inbound(interaction_id=interaction_id, now=timezone.now())
                if locked is None:
                    return None
                contact = locked
                waiting = _waiting_claim(contact=contact, up_to=interaction_id, now=timezone.now())
                result = None
                for message in waiting:
                    current[:] = [message]
                    # Its log lines name it; the first text answering it starts the reply
                    # clock (/metrics, docs/reference.md §9).
                    with (
                        log_context(contact_id=contact.pk, message_id=message.pk),
                        reply_clock(message.created_at),
                    ):
                        _route(contact=contact, interaction=message)
                    if message.pk == interaction_id:
                        result = InboundResult(contact=contact, interaction=message)
            return result
        except Exception as exc:
            if not current:
                raise  # the lock or the claim failed (the database): the sweeper tries again
            given_up = _route_failed(interaction=current[0], error=exc)
            if not given_up or current[0].pk == interaction_id:
                return None
            # The older message that failed is left for a person: route the rest now.
    return None


def _route_failed(*, interaction: Interaction, error: Exception) -> bool:
    """Count one failed routing of `interaction` (its transaction was rolled back); True
    when that was its last try."""
    logger.exception("inbound %s could not be routed", interaction.pk, exc_info=error)
    now = timezone.now()
    Interaction.objects.filter(pk=interaction.pk).update(
        route_attempts=F("route_attempts") + 1,
        route_error=f"{type(error).__name__}: {error}"[:2000],
        route_failed_at=Case(
            When(route_attempts__gte=MAX_ROUTE_ATTEMPTS - 1, then=Value(now)), default=F("route_failed_at")
        ),
    )
    failed = Interaction.objects.filter(pk=interaction.pk, route_failed_at__isnull=False).exists()
    if failed:
        logger.error(
            "inbound %s given up after %d tries: it is left for a person (admin: Route failed)",
            interaction.pk,
            MAX_ROUTE_ATTEMPTS,
        )
    return failed


def _route(*, contact: Contact, interaction: Interaction) -> None:
    """Compliance first (``contacts.compliance``, the one judge of it), then the journey
    engine (caller: contact row locked)."""
    normalized = reply_normalize(interaction.body)
    # Twilio's Advanced Opt-Out recognised a keyword of any language: act on it as on ours.
    raw = interaction.raw_payload if isinstance(interaction.raw_payload, dict) else {}
    intent = compliance_intent(
        text=interaction.body, normalized=normalized, opt_out_type=str(raw.get("OptOutType") or "")
    )

    # Answers go back from the address the contact wrote to, on their channel (docs/reference.md
    # §8); so do the texts of the journey this message moves (the interpreter reads the same).
    sender = sender_of_address(interaction.to_address)

    def reply(text: str, purpose: str) -> None:
        outbound_queue(contact=contact, body=text, purpose=purpose, answers_contact=True, sender=sender)

    kind = intent.kind if intent else None
    if kind == Intent.OPT_OUT:
        changed = contact_opt_out(
            contact=contact,
            source=ConsentEvent.Source.REVOCATION if intent.revocation else ConsentEvent.Source.KEYWORD,
            detail=intent.detail,
            text=interaction.body,
            rule=intent.rule,
        )
        # One confirmation at most (none when it is not configured: Twilio sends its own).
        if changed and settings.SMS_OPT_OUT_CONFIRMATION:
            reply(settings.SMS_OPT_OUT_CONFIRMATION, "opt_out_confirmation")
        return
    if kind == Intent.HELP:
        reply(settings.SMS_HELP_TEXT, "help")
        return
    if contact.opted_out:
        if kind == Intent.OPT_IN:
            opted_in = contact_opt_in(
                contact=contact,
                detail=intent.detail,
                text=interaction.body,
                rule=intent.rule,
            )
            if opted_in and settings.SMS_OPT_IN_CONFIRMATION:
                reply(settings.SMS_OPT_IN_CONFIRMATION, "opt_in_confirmation")
        # Opted out (or just back in): the message is recorded, nothing else happens.
        return
    if contact.consent_at is None and kind == Intent.OPT_IN:
        # An opt-in word is consent to marketing texts (and, from here, an ordinary reply),
        # given when the message came: before any enrollment it makes (enrolled then too).
        contact_consent_record(
            contact=contact,
            source=ConsentEvent.Source.KEYWORD,
            detail=intent.detail,
            text=interaction.body,
            rule=f"opt-in word {normalized}",
            at=interaction.created_at,
        )
    enrollment_route(contact=contact, interaction=interaction, normalized=normalized)


def _waiting_claim(*, contact: Contact, up_to: int, now) -> list[Interaction]:
    """Inside the route's transaction, the contact locked: mark routed every inbound message
    of the contact that waits (not routed, not given up) up to message `up_to`, and return
    them oldest first. A message another worker routed meanwhile is not among them: this
    statement runs after the lock, so it sees that worker's commit. One older than
    ROUTE_GIVE_UP is abandoned (left for a person), never routed late.

    Hand-built (docs/architecture.md §4): the ORM has no ``UPDATE … RETURNING``. bench/hand_sql.py, case
    5 — one statement instead of select_for_update() and update(), a third of the CPU (372
    against 1,121 µs)."""
    sql = _waiting_claim_sql(connection.vendor)
    claimed = list(Interaction.objects.raw(sql, [now, contact.pk, up_to, now - ROUTE_GIVE_UP]))
    claimed.sort(key=lambda i: (i.created_at, i.pk))
    return claimed


@functools.cache
def _waiting_claim_sql(vendor: str) -> str:
    meta = Interaction._meta
    qn = connection.ops.quote_name
    routed, contact, direction, failed, created = (
        qn(meta.get_field(n).column)
        for n in ("routed_at", "contact", "direction", "route_failed_at", "created_at")
    )
    columns = ", ".join(qn(f.column) for f in meta.concrete_fields)
    inbound = Interaction.Direction.INBOUND.value
    # Identifiers come from the model and are quoted; values are parameters (the direction
    # is the model's own constant).
    return (
        f"UPDATE {qn(meta.db_table)} SET {routed} = %s "  # noqa: S608
        f"WHERE {contact} = %s AND {direction} = '{inbound}' AND {routed} IS NULL AND {failed} IS NULL "
        f"AND {qn(meta.pk.column)} <= %s AND {created} >= %s RETURNING {columns}"
    )


# --- the sweeper --------------------------------------------------------------------------


def inbound_route_due(*, now=None, batch_size: int = ROUTE_BATCH) -> int:
    """Route the stored inbound messages no worker took within ROUTE_GRACE (the broker was
    down when they came, or a worker died): the oldest first, each contact's in arrival
    order. Returns how many it routed. Safe beside workers: a message is claimed once.
    Never spins on a message it cannot route: each failure is counted, and after
    MAX_ROUTE_ATTEMPTS the message is given up."""
    now = now or timezone.now()
    waiting = list(
        Interaction.objects.filter(
            direction=Interaction.Direction.INBOUND,
            routed_at__isnull=True,
            route_failed_at__isnull=True,
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
