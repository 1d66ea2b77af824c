"""Row locks, and the one order every transaction takes them in (docs/architecture.md §1).

Every change a message, a timer, an event or a person makes happens in one short
transaction that locks, in this order, only what it changes:

1. the contact — ``contacts.locks.contact_lock`` (``contacts_qs_select_for_update`` for
   several, in id order); routing locks it through its stored message, in the statement
   that records the message's arrival (``contact_lock_for_inbound``, here);
2. the contact's waiting messages — routing claims them (``automation.engine.inbound``);
3. its enrollments — here: ``enrollments_active_lock`` (routing and events: the active
   ones, the step entered last first), ``enrollment_lock`` (one, by id), and
   ``enrollments_qs_select_for_update`` for the rest, in id order;
4. its outbound messages — ``messaging.locks.outbound_lock``.

A transaction never waits for an earlier lock while holding a later one, so no two wait
for each other. Each app keeps its own model's locks (a lower app locks its rows without
this one); this app, which orchestrates them all, keeps the order. Jobs that run beside
live traffic never wait at all: timers lock the contact with ``skip_locked`` and go on to
the next; expiry locks a batch of enrollments and then their contacts, both with
``skip_locked`` (out of order, so it must never wait: a row someone holds is left for the
next run)."""

import functools

from django.db import connection
from django.db.models import QuerySet

from automation.models import Enrollment, EnrollmentStatus
from contacts.models import Contact
from tracking.models import Interaction


def enrollments_qs_select_for_update(*, skip_locked: bool = False) -> QuerySet[Enrollment]:
    """Enrollments to lock inside the caller's transaction (their own rows only), in id
    order. `skip_locked`: one another transaction holds is left out, never waited for."""
    return Enrollment.objects.order_by("pk").select_for_update(of=("self",), skip_locked=skip_locked)


def enrollment_lock(*, enrollment_id: int, contact: Contact, **conditions) -> Enrollment | None:
    """Inside the caller's transaction, `contact` locked already: enrollment
    `enrollment_id`, its row locked, when it is active and matches `conditions` (field
    lookups: a visit, a step, a due timer) — else None. Its contact is the locked one."""
    enrollment = (
        enrollments_qs_select_for_update()
        .filter(pk=enrollment_id, status=EnrollmentStatus.ACTIVE, **conditions)
        .first()
    )
    if enrollment is not None:
        enrollment.contact = contact
    return enrollment


def enrollments_active_lock(*, contact: Contact) -> list[Enrollment]:
    """Inside the caller's transaction, `contact` locked already: its active enrollments,
    their rows locked, the one whose step was entered last first; their contact is the
    locked one."""
    enrollments = list(
        Enrollment.objects.raw(
            _enrollments_active_sql(connection.vendor), [contact.pk, EnrollmentStatus.ACTIVE.value]
        )
    )
    for enrollment in enrollments:
        enrollment.contact = contact
    return enrollments


@functools.cache
def _enrollments_active_sql(vendor: str) -> str:
    """``SELECT … FOR UPDATE`` of a contact's active enrollments, newest step first, built
    once per process from the model. Hand-built (docs/architecture.md §4): bench/hand_sql.py, case 7 —
    the ORM's ``select_for_update().filter().order_by()`` compiles the same statement on
    every message, for 2.3 times the CPU (284 against 657 µs)."""
    meta = Enrollment._meta
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in meta.concrete_fields)
    contact, status, entered, pk = (
        qn(meta.get_field(n).column) for n in ("contact", "status", "step_entered_at", "id")
    )
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    # Identifiers come from the model and are quoted; values are parameters.
    return (
        f"SELECT {columns} FROM {qn(meta.db_table)} WHERE {contact} = %s AND {status} = %s "  # noqa: S608
        f"ORDER BY {entered} DESC, {pk} DESC{lock}"
    )


def contact_lock_for_inbound(*, interaction_id: int, now) -> Contact | None:
    """Lock the contact of stored inbound message `interaction_id` and record the message's
    arrival on it (``last_inbound_at``, when later than what it holds): an ``UPDATE`` takes
    the lock a ``SELECT … FOR NO KEY UPDATE`` would, and writes what routing must write
    anyway. The contact as it is now; None when the message is not an inbound one.

    Hand-built (docs/architecture.md §4): the ORM has no ``UPDATE … RETURNING``. bench/hand_sql.py, case
    4 — one statement instead of three for the ORM's select_for_update() and update(), a
    fifth of the CPU (343 against 1,604 µs)."""
    sql = _contact_lock_for_inbound_sql(connection.vendor)
    contacts = list(Contact.objects.raw(sql, [interaction_id, interaction_id, now, interaction_id]))
    return contacts[0] if contacts else None


@functools.cache
def _contact_lock_for_inbound_sql(vendor: str) -> str:
    meta, i_meta = Contact._meta, Interaction._meta
    qn = connection.ops.quote_name
    table, i_table = qn(meta.db_table), qn(i_meta.db_table)
    last, updated = (qn(meta.get_field(n).column) for n in ("last_inbound_at", "updated_at"))
    created, contact_id, direction = (
        qn(i_meta.get_field(n).column) for n in ("created_at", "contact", "direction")
    )
    inbound = Interaction.Direction.INBOUND.value
    columns = ", ".join(qn(f.column) for f in meta.concrete_fields)
    message = f"FROM {i_table} WHERE {qn(i_meta.pk.column)} = %s AND {direction} = '{inbound}'"
    # Identifiers come from the models and are quoted; values are parameters (the direction
    # is the model's own constant).
    return (
        f"UPDATE {table} SET {last} = CASE WHEN {last} IS NULL OR {last} < (SELECT {created} {message}) "  # noqa: S608
        f"THEN (SELECT {created} {message}) ELSE {last} END, {updated} = %s "
        f"WHERE {qn(meta.pk.column)} = (SELECT {contact_id} {message}) "
        f"RETURNING {columns}"
    )
