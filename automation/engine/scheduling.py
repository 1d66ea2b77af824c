"""Time in the journey: enrollment expiry and reply timeouts.

Both jobs are driven by Celery beat (``automation.tasks``) and by management commands
(``expire_enrollments``, ``process_timeouts``) for cron users. They are safe to run
concurrently with live traffic and with another copy of themselves.

Locks (their order: ``automation.locks``):
- Expiry locks enrollment rows only, always with ``SKIP LOCKED``: it never waits for a row a
  reply holds, so it cannot deadlock with one. An enrollment a reply is working on is left
  for the next run, and the guarded UPDATE re-checks ``status='active' AND expires_at <= now``
  so a row is never expired from a state it already left. When a plan has an expiry text the
  message insert needs the contact row too: those contacts are locked with ``SKIP LOCKED``
  as well (no waiting while holding enrollment locks); an enrollment whose contact is busy
  waits for the next run.
- Timeouts take them in the one order: contact (``SKIP LOCKED``: a contact in the
  middle of a reply is retried next run), then its enrollment; after locking, the enrollment
  must still be active, in the same state, with its timeout still due — a stale timeout
  (the contact replied, the enrollment moved on) never fires.

Set-based expiry does what ``enrollments.enrollment_end`` does for one enrollment, for a batch:
status, ended_at, end_reason, timeout cleared, a step (via "expiry"), held messages canceled.
``Enrollment.status`` is a protected FSMField; the batch UPDATE (a queryset ``.update()``, or
on PostgreSQL one ``UPDATE … RETURNING`` feeding the INSERT of the step rows) bypasses the FSM
on purpose: the only transition it performs is
``active → expired`` (exactly ``Enrollment.expire``'s source and target, guarded in SQL by
``WHERE status='active'``), and doing it row by row would cost ~4 queries per enrollment.
"""

import functools
import logging
from collections.abc import Callable
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from automation.engine.enrollments import enrollment_text_queue
from automation.engine.revisions import revision_flow, revision_flows
from automation.locks import enrollment_lock, enrollments_qs_select_for_update
from automation.models import Enrollment, EnrollmentStatus, EnrollmentStep
from contacts.locks import contact_lock, contacts_qs_select_for_update

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]


# --- timers: ask timeouts, wait_event timeouts, delays ------------------------------------


def _silence_deadline(*, prompt_sent_at: datetime, last_inbound_at: datetime | None, timeout) -> datetime:
    """A wait timeout measures silence: it elapses `timeout` after the later of the prompt
    being sent and the contact's last message."""
    start = max(prompt_sent_at, last_inbound_at) if last_inbound_at else prompt_sent_at
    return start + timeout


def _silence_timeout(*, revision_id: int, step_id: str):
    step = revision_flow(revision_id).steps.get(step_id)
    return step.kind.timer_after_prompt(step.data) if step is not None else None


def enrollment_prompt_sent(*, outbound_id: int, sent_at: datetime) -> None:
    """Called when a step's text was accepted by Twilio: if the enrollment is still at that
    step, arm its silence timeout (from the later of the text sent and the last inbound)."""
    from messaging.models import OutboundMessage

    row = (
        OutboundMessage.objects.filter(id=outbound_id, enrollment__isnull=False)
        .exclude(step_id="")
        .values(
            "enrollment_id",
            "step_id",
            "enrollment__revision_id",
            "enrollment__last_inbound_at",
            "contact__last_inbound_at",
        )
        .first()
    )
    if row is None:
        return
    timeout = _silence_timeout(revision_id=row["enrollment__revision_id"], step_id=row["step_id"])
    if timeout is None:
        return
    last_inbound = max(
        (t for t in (row["enrollment__last_inbound_at"], row["contact__last_inbound_at"]) if t), default=None
    )
    deadline = _silence_deadline(prompt_sent_at=sent_at, last_inbound_at=last_inbound, timeout=timeout)
    # Guarded: only while the enrollment is still active at the step this text was for.
    Enrollment.objects.filter(
        id=row["enrollment_id"], status=EnrollmentStatus.ACTIVE, step_id=row["step_id"]
    ).update(prompt_sent_at=sent_at, timeout_at=deadline)


def _timeout_fire_one(
    *, enrollment_id: int, contact_id: int, step_id: str, now: datetime, early: bool = False
) -> bool:
    """Fire one due timer, locking the contact, then the enrollment (`early`: whenever
    it is due, the simulator's fast-forward). True when the enrollment moved on."""
    from automation.engine.interpreter import enrollment_advance

    with transaction.atomic():
        contact = contact_lock(contact_id=contact_id, skip_locked=True)
        if contact is None:
            return False  # a reply is being handled right now: next run
        enrollment = enrollment_lock(
            enrollment_id=enrollment_id,
            contact=contact,
            contact_id=contact_id,
            step_id=step_id,
            **({"timeout_at__isnull": False} if early else {"timeout_at__lte": now}),
        )
        if enrollment is None:
            return False  # stale: it moved on, ended, or the contact replied
        # Silence is measured to the contact's last message, whoever recorded it.
        timeout = _silence_timeout(revision_id=enrollment.revision_id, step_id=step_id)
        if timeout and enrollment.prompt_sent_at and not early:
            last_inbound = max(
                (t for t in (enrollment.last_inbound_at, contact.last_inbound_at) if t), default=None
            )
            deadline = _silence_deadline(
                prompt_sent_at=enrollment.prompt_sent_at, last_inbound_at=last_inbound, timeout=timeout
            )
            if deadline > now:
                Enrollment.objects.filter(id=enrollment.id).update(timeout_at=deadline)
                return False
        if not enrollment_advance(enrollment=enrollment, contact=contact, event="timer", now=now):
            # Nowhere to go: the timer is simply over.
            Enrollment.objects.filter(id=enrollment.id).update(timeout_at=None)
            return False
        return True


def enrollment_timer_fast_forward(*, enrollment_id: int) -> bool:
    """Fire an enrollment's timer now, as though its time had come (the simulator's
    fast-forward of a delay or a wait). False when it has no timer running."""
    row = (
        Enrollment.objects.filter(pk=enrollment_id, status=EnrollmentStatus.ACTIVE, timeout_at__isnull=False)
        .values_list("contact_id", "step_id")
        .first()
    )
    if row is None:
        return False
    return _timeout_fire_one(
        enrollment_id=enrollment_id, contact_id=row[0], step_id=row[1], now=timezone.now(), early=True
    )


def _due_timeouts(now: datetime):
    return Enrollment.objects.filter(status=EnrollmentStatus.ACTIVE, timeout_at__lte=now)


def enrollment_timeouts_fire(
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    batch_size: int = 500,
    progress: ProgressCallback | None = None,
) -> int:
    """Fire every due timer (ask and wait_event timeouts, delays, http answers that never
    came); return how many enrollments moved on.

    Candidates are read in id order, in batches, without locks; each is then fired in its own
    short transaction that locks the contact, then the enrollment (see the module doc).
    A dry run counts the due timers and changes nothing.
    """
    now = now or timezone.now()
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    if dry_run:
        return _due_timeouts(now).count()
    fired = 0
    last_id = 0
    while True:
        batch = list(
            _due_timeouts(now)
            .filter(id__gt=last_id)
            .order_by("id")
            .values_list("id", "contact_id", "step_id")[:batch_size]
        )
        if not batch:
            break
        last_id = batch[-1][0]
        for enrollment_id, contact_id, step_id in batch:
            try:
                moved = _timeout_fire_one(
                    enrollment_id=enrollment_id, contact_id=contact_id, step_id=step_id, now=now
                )
            except Exception:  # one broken enrollment must not stop the rest
                logger.exception("timer of enrollment %s did not fire; retried next run", enrollment_id)
                continue
            fired += moved
        if progress:
            progress(fired)
        if len(batch) < batch_size:
            break
    return fired


# --- expiry --------------------------------------------------------------------------


def _due_expiries(now: datetime, *, among=Enrollment.objects):
    return among.filter(status=EnrollmentStatus.ACTIVE, expires_at__lte=now)


def _expiry_texts(revision_ids) -> dict[int, str]:
    """The expiry texts of the revisions among `revision_ids` ("" where there is none)."""
    return {pk: flow.expiry_text for pk, flow in revision_flows(revision_ids).items()}


def _expire_batch(
    *, now: datetime, last_id: int, batch_size: int, texts: dict[int, str | None]
) -> tuple[int, int, bool]:
    """Expire up to `batch_size` due enrollments with id > `last_id` in one transaction.
    Returns (how many expired, the last id looked at, whether more may be due after it)."""
    from messaging.models import DeliveryStatus, OutboundMessage

    with transaction.atomic():
        rows = list(
            _due_expiries(now, among=enrollments_qs_select_for_update(skip_locked=True))
            .filter(id__gt=last_id)
            .values_list("id", "step_id", "revision_id", "contact_id", "plan_id")[:batch_size]
        )
        if not rows:
            return 0, last_id, False
        scanned_to = rows[-1][0]
        more = len(rows) == batch_size  # SKIP LOCKED fills the LIMIT when it can

        # Revisions with an expiry text need their contacts locked (messages reference them).
        unknown = {row[2] for row in rows if row[2] not in texts}
        if unknown:
            texts.update(_expiry_texts(unknown))
        texting = [row for row in rows if texts.get(row[2])]
        if texting:
            locked = set(
                contacts_qs_select_for_update(no_key=False, skip_locked=True)
                .filter(id__in={row[3] for row in texting})
                .values_list("id", flat=True)
            )
            busy = {row[0] for row in texting if row[3] not in locked}
            if busy:  # a reply holds the contact: leave these for the next run
                rows = [row for row in rows if row[0] not in busy]
                texting = [row for row in texting if row[0] not in busy]
        ids = [row[0] for row in rows]
        if not ids:
            return 0, scanned_to, more

        if connection.vendor == "postgresql":
            changed = _expire_rows_postgresql(ids=ids, now=now)
        else:
            changed = _expire_rows_portable(rows=rows, now=now)
        if len(changed) != len(rows):  # only without row locks (SQLite): keep what really changed
            rows = [row for row in rows if row[0] in changed]
            texting = [row for row in texting if row[0] in changed]

        # Messages held for quiet hours belong to a journey that is over now (as enrollment_end does).
        OutboundMessage.objects.filter(
            enrollment_id__in=[row[0] for row in rows], status=DeliveryStatus.HELD
        ).update(status=DeliveryStatus.CANCELED, status_updated_at=now, error_message="Enrollment expired.")
        if texting:
            _expiry_texts_queue(rows=texting, texts=texts)
        return len(rows), scanned_to, more


def _expire_rows_postgresql(*, ids: list[int], now: datetime) -> set[int]:
    """The guarded UPDATE and the step rows in one statement (one round trip, no model
    instances). Returns the ids that changed.

    Hand-built (docs/architecture.md §4): bench/expiry.py — 100,000 due of 1,000,000 enrollments expired
    in 7.70 s against 16.45 s for ``update()`` + ``bulk_create()`` (2.1 times faster, the
    same busy machine; bench/README.md), which ``_expire_rows_portable`` does elsewhere."""
    params = {
        "ids": ids,
        "now": now,
        "expired": EnrollmentStatus.EXPIRED.value,
        "active": EnrollmentStatus.ACTIVE.value,
        "reason": "expired",
        "via": EnrollmentStep.Via.EXPIRY.value,
    }
    with connection.cursor() as cursor:
        cursor.execute(_expire_sql(connection.vendor), params)
        return {row[0] for row in cursor.fetchall()}


@functools.cache
def _expire_sql(vendor: str) -> str:
    e_meta, s_meta = Enrollment._meta, EnrollmentStep._meta
    qn = connection.ops.quote_name
    pk, status, ended, timeout, reason, expires, step, plan = (
        qn(e_meta.get_field(n).column)
        for n in ("id", "status", "ended_at", "timeout_at", "end_reason", "expires_at", "step_id", "plan")
    )
    names = (
        "enrollment", "plan", "step_id", "from_step_id", "via", "detail", "value", "value_kind",
        "interaction", "occurred_at",
    )  # fmt: skip
    columns = ", ".join(qn(s_meta.get_field(n).column) for n in names)
    # Identifiers come from the models and are quoted; values are parameters.
    return (
        f"WITH expired AS (UPDATE {qn(e_meta.db_table)} "  # noqa: S608
        f"SET {status} = %(expired)s, {ended} = %(now)s, {timeout} = NULL, {reason} = %(reason)s "
        f"WHERE {pk} = ANY(%(ids)s) AND {status} = %(active)s AND {expires} <= %(now)s "
        f"RETURNING {pk}, {step}, {plan}) "
        f"INSERT INTO {qn(s_meta.db_table)} ({columns}) "
        f"SELECT {pk}, {plan}, {step}, {step}, %(via)s, '', '', '', NULL, %(now)s FROM expired "
        f"RETURNING {qn(s_meta.get_field('enrollment').column)}"
    )


def _expire_rows_portable(*, rows, now: datetime) -> set[int]:
    """The same with the ORM, for databases other than PostgreSQL."""
    ids = [row[0] for row in rows]
    updated = (
        _due_expiries(now)
        .filter(id__in=ids)
        .update(status=EnrollmentStatus.EXPIRED, ended_at=now, timeout_at=None, end_reason="expired")
    )
    changed = set(ids)
    if updated != len(ids):
        changed = set(
            Enrollment.objects.filter(id__in=ids, status=EnrollmentStatus.EXPIRED, ended_at=now).values_list(
                "id", flat=True
            )
        )
    EnrollmentStep.objects.bulk_create(
        [
            EnrollmentStep(
                enrollment_id=eid,
                plan_id=plan_id,
                step_id=step_id,
                from_step_id=step_id,
                via=EnrollmentStep.Via.EXPIRY,
                occurred_at=now,
            )
            for eid, step_id, _, _, plan_id in rows
            if eid in changed
        ],
        batch_size=500,
    )
    return changed


def _expiry_texts_queue(*, rows, texts: dict[int, str | None]) -> None:
    """Queue the plan's expiry text to each contact of `rows` (not an answer: quiet hours apply)."""
    from contacts.models import Contact

    contacts = Contact.objects.in_bulk({row[3] for row in rows})
    enrollments = Enrollment.objects.in_bulk([row[0] for row in rows])
    for eid, step_id, revision_id, contact_id, _ in rows:
        contact, enrollment = contacts[contact_id], enrollments[eid]
        enrollment_text_queue(
            enrollment=enrollment,
            contact=contact,
            template=texts[revision_id] or "",
            purpose="expiry",
            answers_contact=False,
            step_id=step_id,
        )


def enrollment_expire_due(
    *,
    now: datetime | None = None,
    batch_size: int = 5000,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> int:
    """Expire every active enrollment whose expires_at has passed; return how many.

    Set-based: per batch one ``SELECT … FOR UPDATE SKIP LOCKED``, one guarded UPDATE and one
    multi-row INSERT of the EnrollmentStep rows (a single statement on PostgreSQL), one UPDATE
    canceling messages held for quiet hours (plus the expiry texts, for plans that have
    one). Each batch commits on its own, so a long run holds few locks and can be stopped.
    Idempotent: a second run (or a concurrent copy) finds nothing left to expire.
    `progress(total_so_far)` is called after every batch.
    """
    now = now or timezone.now()
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    if dry_run:
        return _due_expiries(now).count()
    total = 0
    last_id = 0
    texts: dict[int, str | None] = {}
    while True:
        expired, last_id, more = _expire_batch(now=now, last_id=last_id, batch_size=batch_size, texts=texts)
        total += expired
        if progress and (expired or more):
            progress(total)
        if not more:
            break
    return total


__all__ = ["enrollment_expire_due", "enrollment_prompt_sent", "enrollment_timeouts_fire"]
