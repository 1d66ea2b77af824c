"""Bulk enrollment: enroll many contacts (an admin selection or a CSV segment) in an
active plan, in Celery batches, with progress counted on a BulkEnrollmentJob.

A job's batches run one after another, in CHAINS chains (a batch hands the next of its
chain over when it ends), off the request path (the in-process scheduler without a
broker): all at once, they held every worker thread — and, without a broker, the request —
while the texts they queue waited (bench/campaign.py).

Skipped: opted-out contacts, contacts without marketing consent on record (docs/reference.md §5:
"no consent" in the job's counts), contacts already enrolled (an active enrollment in the plan,
or any enrollment in a once-only plan), test contacts. Each contact is enrolled in its own
short transaction with its row locked (the lock order: ``automation.locks``), through the
interpreter's ``enrollment_start`` at the published revision; the start step's text is not
an answer, so quiet hours apply to it.
"""

import csv
import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from automation.engine.revisions import revision_flow
from automation.models import BulkEnrollmentBatch, BulkEnrollmentJob, Enrollment, EnrollmentStatus, Plan
from contacts.locks import contact_lock
from contacts.models import Contact
from contacts.phone import phone_normalize
from infra import background
from infra.background import task_enqueue

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
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
    for contact_id in contact_ids:
        try:
            with transaction.atomic():
                contact = contact_lock(contact_id=contact_id)
                if contact is None:
                    continue  # counted as missing above
                outcome = _enroll_one(contact=contact, plan=plan)
        except IntegrityError:
            outcome = "skipped_enrolled"  # a concurrent message enrolled it first
        except Exception as exc:  # one bad contact must not stop the job
            logger.exception("Bulk enrollment %s: contact %s failed", job.pk, contact_id)
            outcome = "skipped_other"
            if len(counts.notes) < 5:
                counts.notes.append(f"Contact {contact_id}: {exc}"[:200])
        setattr(counts, outcome, getattr(counts, outcome) + 1)

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


def _enroll_one(*, contact: Contact, plan: Plan) -> str:
    from automation.engine.interpreter import enrollment_may_enter, enrollment_start

    if contact.is_test:
        return "skipped_other"
    if contact.opted_out:
        return "skipped_opted_out"
    if contact.consent_at is None:
        return "skipped_no_consent"  # docs/reference.md §5: no marketing text without consent on record
    if Enrollment.objects.filter(contact=contact, plan=plan, status=EnrollmentStatus.ACTIVE).exists():
        return "skipped_enrolled"
    if not enrollment_may_enter(contact=contact, plan_id=plan.pk, flow=revision_flow(plan.published_id)):
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
