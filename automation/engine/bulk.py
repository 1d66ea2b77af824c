"""Bulk enrollment: enroll many contacts (an admin selection or a CSV segment) in an
active plan, in Celery batches, with progress counted on a BulkEnrollmentJob.

A job's batches run one after another, in CHAINS chains (a batch hands the next of its
chain over when it ends), off the request path (the in-process scheduler without a
broker): all at once, they held every worker thread — and, without a broker, the request —
while the texts they queue waited (bench/campaign.py).

Skipped: opted-out contacts, contacts without marketing consent on record (docs/reference.md §5:
"no consent" in the job's counts), contacts already enrolled (an active enrollment in the plan,
or any enrollment in a once-only plan), test contacts. A batch enrolls CHUNK contacts a
transaction, their rows locked in id order (the lock order: ``automation.locks``) and
judged in one query each, each through the interpreter's ``enrollment_start`` at the
published revision; a chunk that fails (a contact enrolled meanwhile by a message, a bad
contact) is rolled back and enrolled again a contact a transaction, so one contact never
stops the others. (One transaction a contact was 11 statements a contact and a commit
each; the enrollment then took the CPU the sends needed: bench/campaign.py.) The start
step's text is not an answer, so quiet hours apply to it.
"""

import csv
import io
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from automation.engine.revisions import revision_flow
from automation.models import BulkEnrollmentBatch, BulkEnrollmentJob, Enrollment, EnrollmentStatus, Plan
from contacts.locks import contacts_qs_select_for_update
from contacts.models import Contact
from contacts.phone import phone_normalize
from infra import background
from infra.background import task_enqueue

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
CHUNK = 25  # contacts enrolled in one transaction
# SQLite has one writer, and a writer that waits polls for the lock (sleeps up to 100 ms):
# a job that commits a chunk and begins the next at once kept the webhook and the sends
# out for seconds (bench/campaign.py, zero-setup). There a chunk is smaller, and after each
# the job waits twice as long as it took (at least 0.1 s): it holds the lock a third of
# the time at most, and about 65 contacts a second still outpace a 50 MPS sender.
SQLITE_CHUNK, SQLITE_PAUSE_MIN, SQLITE_PAUSE_SHARE = 10, 0.1, 2.0
CHAINS = 2  # a job's batches running at once
LOOKUP_CHUNK = 1000
MAX_SEGMENT_ERRORS = 20


def _check_plan(plan: Plan) -> None:
    if plan.status != Plan.Status.ACTIVE:
        status = plan.get_status_display().lower()
        raise ValidationError(f"{plan.name} is {status}: only active plans enroll.")
    if plan.published_id is None:
        raise ValidationError(f"{plan.name} has no published revision.")


def bulk_enrollment_create(
    *,
    plan: Plan,
    contact_ids: Iterable[int],
    user=None,
    source: str = BulkEnrollmentJob.Source.SELECTION,
    not_found: int = 0,
    note: str = "",
) -> BulkEnrollmentJob:
    """Record a job for `contact_ids` and queue its batches (sent on commit).
    Raises ValidationError when the plan cannot enroll anyone."""
    _check_plan(plan)
    ids = sorted(set(contact_ids))
    with transaction.atomic():
        job = BulkEnrollmentJob.objects.create(
            plan=plan, created_by=user, source=source, total=len(ids), not_found=not_found, note=note
        )
        if not ids:
            job.status = BulkEnrollmentJob.Status.DONE
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "finished_at"])
            return job
        from automation.tasks_bulk import bulk_enrollment_batch_task

        batches = [ids[i : i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]
        # Run right here (tests, commands): one after another, no chain to recurse down.
        chains = len(batches) if background.eager() and not background.running() else CHAINS
        for first in range(min(chains, len(batches))):
            (index, batch), *rest = [[i, batches[i]] for i in range(first, len(batches), chains)]
            transaction.on_commit(
                lambda b=batch, i=index, r=rest: task_enqueue(
                    bulk_enrollment_batch_task, args=(job.pk, b, i, r)
                )
            )
    return job


def bulk_enrollment_chain_next(*, job_id: int, rest: list) -> None:
    """Hand over the next batch of a chain (`rest`: its [index, contact ids] still to run)."""
    if not rest:
        return
    from automation.tasks_bulk import bulk_enrollment_batch_task

    (index, contact_ids), *later = rest
    task_enqueue(bulk_enrollment_batch_task, args=(job_id, contact_ids, index, later))


@dataclass
class _Counts:
    enrolled: int = 0
    skipped_opted_out: int = 0
    skipped_enrolled: int = 0
    skipped_no_consent: int = 0
    skipped_other: int = 0
    notes: list[str] = field(default_factory=list)


def bulk_enrollment_batch_run(*, job_id: int, contact_ids: list[int], index: int | None = None) -> None:
    """Enroll one batch of a job's contacts and add to its counters. A contact is judged
    again under its row lock, so a batch run twice enrolls nobody twice; and the batch's
    counts are added in the same transaction that records batch `index` as counted, so a
    batch delivered twice counts once. (A batch whose first run died half-way is run again
    in full: the contacts that run enrolled are then counted as already enrolled.)"""
    job = BulkEnrollmentJob.objects.select_related("plan").filter(pk=job_id).first()
    if job is None:
        logger.warning("Bulk enrollment job %s is gone; batch dropped", job_id)
        return
    BulkEnrollmentJob.objects.filter(pk=job.pk, status=BulkEnrollmentJob.Status.QUEUED).update(
        status=BulkEnrollmentJob.Status.RUNNING
    )
    plan = job.plan
    batch_size = len(contact_ids)
    counts = _Counts()
    missing = len(contact_ids) - Contact.objects.filter(pk__in=contact_ids).count()
    counts.skipped_other += missing
    if plan.status != Plan.Status.ACTIVE or plan.published_id is None:
        # Paused or archived since the job was queued: the rest of the job enrolls nobody.
        counts.skipped_other += len(contact_ids) - missing
        contact_ids = []
        if len(counts.notes) < 5:
            counts.notes.append(f"{plan.name} was not active when a batch ran: its contacts were skipped.")
    chunk_size = SQLITE_CHUNK if connection.vendor == "sqlite" else CHUNK
    for start in range(0, len(contact_ids), chunk_size):
        chunk, began = contact_ids[start : start + chunk_size], time.monotonic()
        try:
            outcomes = _enroll_chunk(contact_ids=chunk, plan=plan)
        except Exception:  # rolled back: each contact on its own, to find the one that fails
            outcomes = [_enroll_alone(job_id=job.pk, contact_id=c, plan=plan, counts=counts) for c in chunk]
        for outcome in outcomes:
            if outcome:
                setattr(counts, outcome, getattr(counts, outcome) + 1)
        if connection.vendor == "sqlite" and start + chunk_size < len(contact_ids):
            time.sleep(max(SQLITE_PAUSE_MIN, SQLITE_PAUSE_SHARE * (time.monotonic() - began)))

    now = timezone.now()
    update = {
        "processed": F("processed") + batch_size,
        "enrolled": F("enrolled") + counts.enrolled,
        "skipped_opted_out": F("skipped_opted_out") + counts.skipped_opted_out,
        "skipped_enrolled": F("skipped_enrolled") + counts.skipped_enrolled,
        "skipped_no_consent": F("skipped_no_consent") + counts.skipped_no_consent,
        "skipped_other": F("skipped_other") + counts.skipped_other,
    }
    with transaction.atomic():
        if index is not None:
            try:
                with transaction.atomic():
                    BulkEnrollmentBatch.objects.create(job=job, index=index, counted_at=now)
            except IntegrityError:
                logger.info("Bulk enrollment %s: batch %s was counted already", job.pk, index)
                return
        BulkEnrollmentJob.objects.filter(pk=job.pk).update(**update)
        if counts.notes:
            job.refresh_from_db(fields=["note"])
            job.note = "\n".join(filter(None, [job.note, *counts.notes]))[:5000]
            job.save(update_fields=["note"])
    BulkEnrollmentJob.objects.filter(pk=job.pk, processed__gte=F("total")).exclude(
        status=BulkEnrollmentJob.Status.DONE
    ).update(status=BulkEnrollmentJob.Status.DONE, finished_at=now)


def _enroll_chunk(*, contact_ids: list[int], plan: Plan) -> list[str]:
    """Enroll `contact_ids` in one transaction (all or none); their outcomes (a contact
    that is gone: counted as missing already, "" here)."""
    from automation.engine.interpreter import contacts_may_enter

    with transaction.atomic():
        contacts = list(contacts_qs_select_for_update().filter(pk__in=contact_ids))
        active = set(
            Enrollment.objects.filter(
                contact_id__in=contact_ids, plan=plan, status=EnrollmentStatus.ACTIVE
            ).values_list("contact_id", flat=True)
        )
        flow = revision_flow(plan.published_id)
        may_enter = contacts_may_enter(contact_ids=[c.pk for c in contacts], plan_id=plan.pk, flow=flow)
        return [""] * (len(contact_ids) - len(contacts)) + [
            _enroll_one(contact=c, plan=plan, active=c.pk in active, may_enter=c.pk in may_enter)
            for c in contacts
        ]


def _enroll_alone(*, job_id: int, contact_id: int, plan: Plan, counts: _Counts) -> str:
    """Enroll one contact in a transaction of its own (a chunk that failed, again)."""
    try:
        return _enroll_chunk(contact_ids=[contact_id], plan=plan)[0]
    except IntegrityError:
        return "skipped_enrolled"  # a concurrent message enrolled it first
    except Exception as exc:  # one bad contact must not stop the job
        logger.exception("Bulk enrollment %s: contact %s failed", job_id, contact_id)
        if len(counts.notes) < 5:
            counts.notes.append(f"Contact {contact_id}: {exc}"[:200])
        return "skipped_other"


def _enroll_one(*, contact: Contact, plan: Plan, active: bool, may_enter: bool) -> str:
    from automation.engine.interpreter import enrollment_start

    if contact.is_test:
        return "skipped_other"
    if contact.opted_out:
        return "skipped_opted_out"
    if contact.consent_at is None:
        return "skipped_no_consent"  # docs/reference.md §5: no marketing text without consent on record
    if active or not may_enter:
        return "skipped_enrolled"
    enrollment_start(contact=contact, plan_id=plan.pk, revision_id=plan.published_id)
    return "enrolled"


@dataclass
class Segment:
    contact_ids: list[int]
    phones: int
    not_found: list[str]


def segment_from_csv(*, data: str) -> Segment:
    """Read a CSV of phone numbers (a ``phone`` column, else the first column) and find
    the contacts. Raises ValidationError listing the bad lines (by line number) when any
    number is not a phone number; unknown numbers are returned in `not_found`."""
    try:
        rows = list(csv.reader(io.StringIO(data)))
    except csv.Error as exc:
        raise ValidationError(f"The file is not a readable CSV file: {exc}") from exc
    if not rows:
        raise ValidationError("The file is empty.")
    header = [h.strip().lower() for h in rows[0]]
    if "phone" in header:
        column, first_line, body = header.index("phone"), 2, rows[1:]
    else:
        column, first_line, body = 0, 1, rows
    phones: dict[str, int] = {}
    errors = []
    for line, row in enumerate(body, first_line):
        raw = row[column].strip() if len(row) > column else ""
        if not raw and not any(cell.strip() for cell in row):
            continue  # blank line
        try:
            phones.setdefault(phone_normalize(raw), line)
        except ValidationError as exc:
            errors.append(f"Line {line}: {' '.join(exc.messages)}")
    if errors:
        more = len(errors) - MAX_SEGMENT_ERRORS
        shown = errors[:MAX_SEGMENT_ERRORS] + ([f"… and {more} more."] if more > 0 else [])
        raise ValidationError(shown)
    if not phones:
        raise ValidationError("The file has no phone numbers.")
    found: dict[str, int] = {}
    numbers = list(phones)
    for i in range(0, len(numbers), LOOKUP_CHUNK):
        found.update(
            Contact.objects.filter(phone__in=numbers[i : i + LOOKUP_CHUNK]).values_list("phone", "id")
        )
    return Segment(
        contact_ids=sorted(found.values()),
        phones=len(phones),
        not_found=[p for p in numbers if p not in found],
    )


def bulk_enrollment_from_csv(*, plan: Plan, data: str, user=None) -> BulkEnrollmentJob:
    """Enroll the contacts of a CSV segment. Raises ValidationError for a bad file or plan."""
    _check_plan(plan)
    segment = segment_from_csv(data=data)
    note = ""
    if segment.not_found:
        listed = ", ".join(segment.not_found[:20]) + (" …" if len(segment.not_found) > 20 else "")
        note = f"No contact with these numbers: {listed}"
    return bulk_enrollment_create(
        plan=plan,
        contact_ids=segment.contact_ids,
        user=user,
        source=BulkEnrollmentJob.Source.CSV,
        not_found=len(segment.not_found),
        note=note,
    )
