"""Importing contacts from a file, in the background, with progress (issue 9, point 6).

The admin's "Import" page stores the uploaded file as a ``ContactImport`` and hands it to
a task (a worker; without a broker the serving process's own scheduler): the request
answers at once, and the import's page shows its progress. The request never reads the
file as a table (contacts.import_files): an upload past ``CONTACT_IMPORT_MAX_BYTES`` is
stopped as it streams in (infra.uploads), a file past ``CONTACT_IMPORT_MAX_ROWS`` is
refused on its rows counted, and its columns are checked from its head; the task reads it.

The rules (all or nothing, as before):
- the file is read with tablib (CSV, TSV, JSON as a list of objects, YAML, an HTML table
  with a ``<thead>``); a file whose columns cannot be read, or without a ``phone`` column,
  is refused with one clear message; a cell that is a list or an object (JSON, YAML) is a
  bad row, never written out as text;
- every row is checked first: the phone number, normalised to E.164 (``(415) 555-0100``
  and ``+14155550100`` are one contact; numbers without a country code are read in
  ``PHONE_DEFAULT_REGION``), the same number twice, a simulator number, an invalid e-mail
  or timezone, a value longer than its field. Any bad row refuses the whole file, each
  problem with its row number (1 = the first row after the header), and nothing is
  written;
- then the contacts are created or updated in batches (one transaction each), matched on
  the phone number; only the columns the file has are written; the opt-out status is never
  changed by an import (consent changes only through the contact's keywords, the API, the
  admin or the carrier, and are logged).
- A cell a spreadsheet would run as a formula was exported with a leading apostrophe
  (contacts.resources); the import takes it off.
- Marketing consent (docs/reference.md §5): a ``consent`` column (yes / y / true / 1 / x) records
  the row's consent, with its ``consent_source`` (required then: where and when it was
  given, e.g. "web form, 2026-05-01") in the consent log; an empty or "no" cell records
  nothing, and an import never takes consent away nor overrides an opt-out.
"""

import logging
from dataclasses import dataclass, field
from functools import cache
from zoneinfo import available_timezones

import tablib
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from contacts.import_files import contacts_dataset_load, contacts_file_check
from contacts.locks import contacts_qs_select_for_update
from contacts.models import Contact, ContactImport
from contacts.phone import phone_normalize
from contacts.resources import formula_unescape
from infra.uploads import size_label

logger = logging.getLogger(__name__)

IMPORTED_FIELDS = ("first_name", "last_name", "email", "timezone", "locale")
READ_COLUMNS = ("phone", *IMPORTED_FIELDS, "consent", "consent_source")
# What a cell that is a list or an object (JSON, YAML) reads as: not text.
NOT_A_VALUE = object()
MAX_PROBLEMS = 200  # a refused file lists this many problems at most
BATCH_SIZE = 1000


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


@dataclass
class ImportOutcome:
    problems: list[str] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    consented: int = 0


YES = frozenset({"yes", "y", "true", "1", "x", "opted_in", "si", "sí"})
NO = frozenset({"", "no", "n", "false", "0", "none"})


def _rows(dataset: tablib.Dataset) -> list[dict]:
    headers = [str(h).strip() if h is not None else "" for h in dataset.headers]
    return [{h: formula_unescape(_cell(v)) for h, v in zip(headers, row, strict=False)} for row in dataset]


def _cell(value) -> str | object:
    """A cell as text. A list or an object is not a value: written out, a YAML one made of
    aliases would be as long as its expansion (a "billion laughs")."""
    if value is None:
        return ""
    if isinstance(value, list | dict | tuple | set):
        return NOT_A_VALUE
    return str(value).strip()


def _check(rows: list[dict], columns: list[str], *, progress=None) -> tuple[list[dict], list[str]]:
    """Every row checked: the rows as they will be written (phone normalised), and the
    problems, ``row N: field: reason``."""
    limits = {name: Contact._meta.get_field(name).max_length for name in IMPORTED_FIELDS}
    seen: dict[str, int] = {}
    problems: list[str] = []
    checked = []
    for number, row in enumerate(rows, start=1):

        def problem(name: str, message: str, number=number) -> None:
            if len(problems) < MAX_PROBLEMS:
                problems.append(f"row {number}: {name}: {message}")

        for name in READ_COLUMNS:
            if row.get(name) is NOT_A_VALUE:
                problem(name, "is a list or an object, not a value.")
                row[name] = ""
        try:
            phone = phone_normalize(row.get("phone", ""))
        except ValidationError as exc:
            problem("phone", " ".join(exc.messages))
            phone = None
        if phone is not None:
            first = seen.setdefault(phone, number)
            if first != number:
                problem("phone", f"{phone} is already in row {first} of this file.")
        values = {"phone": phone}
        for name in columns:
            value = row.get(name, "")
            if len(value) > limits[name]:
                problem(name, f"is {len(value)} characters long; at most {limits[name]} are kept.")
            values[name] = value
        if values.get("email"):
            try:
                validate_email(values["email"])
            except ValidationError:
                problem("email", f"{values['email'][:60]} is not an e-mail address.")
        if values.get("timezone") and values["timezone"] not in _timezones():
            problem("timezone", f"{values['timezone'][:64]} is not a known timezone (e.g. Europe/Paris).")
        consent = row.get("consent", "").casefold()
        if consent not in YES | NO:
            problem("consent", f"{consent[:20]!r} is neither yes nor no.")
        values["consent_source"] = ""
        if consent in YES:
            values["consent_source"] = row.get("consent_source", "")[:200]
            if not values["consent_source"]:
                problem("consent_source", "say where the consent was given, e.g. “web form, 2026-05-01”.")
        checked.append(values)
        if progress and number % BATCH_SIZE == 0:
            progress(number)
    phones = [row["phone"] for row in checked if row["phone"]]
    for start in range(0, len(phones), BATCH_SIZE):
        for phone in Contact.objects.filter(
            phone__in=phones[start : start + BATCH_SIZE], is_test=True
        ).values_list("phone", flat=True):
            problems.append(f"row {seen[phone]}: phone: {phone} belongs to a simulator test contact.")
    return checked, problems[:MAX_PROBLEMS]


def contacts_import_dataset(*, dataset: tablib.Dataset, progress=None) -> ImportOutcome:
    """Check every row, then create or update the contacts in batches (see the module's
    rules). `progress(stage, rows_done)` is called as it goes."""
    columns = [name for name in IMPORTED_FIELDS if name in dataset.headers]
    rows = _rows(dataset)
    checked, problems = _check(rows, columns, progress=progress and (lambda n: progress("checking", n)))
    outcome = ImportOutcome(problems=problems)
    if problems:
        return outcome
    for start in range(0, len(checked), BATCH_SIZE):
        batch = checked[start : start + BATCH_SIZE]
        _write_batch(batch, columns, outcome)
        if progress:
            progress("importing", start + len(batch))
    return outcome


def _write_batch(batch: list[dict], columns: list[str], outcome: ImportOutcome) -> None:
    now = timezone.now()
    with transaction.atomic():
        known = contacts_qs_select_for_update(no_key=False).in_bulk(
            [row["phone"] for row in batch], field_name="phone"
        )
        new, changed = [], []
        for row in batch:
            contact = known.get(row["phone"])
            if contact is None:
                new.append(Contact(**{name: row[name] for name in ("phone", *columns)}))
            elif any(getattr(contact, name) != row[name] for name in columns):
                for name in columns:
                    setattr(contact, name, row[name])
                contact.updated_at = now
                changed.append(contact)
            else:
                outcome.unchanged += 1
        Contact.objects.bulk_create(new, batch_size=BATCH_SIZE)
        if changed and columns:
            Contact.objects.bulk_update(changed, [*columns, "updated_at"], batch_size=BATCH_SIZE)
        outcome.consented += _consent_write(batch, now)
    outcome.created += len(new)
    outcome.updated += len(changed)


def _consent_write(batch: list[dict], now) -> int:
    """Record the consent of the batch's rows that give it, for contacts with none on record
    and not opted out (inside the batch's transaction). How many were recorded."""
    from contacts.models import ConsentEvent

    sources = {row["phone"]: row["consent_source"] for row in batch if row.get("consent_source")}
    if not sources:
        return 0
    ids = dict(
        Contact.objects.filter(phone__in=list(sources), consent_at__isnull=True, opted_out=False).values_list(
            "phone", "pk"
        )
    )
    Contact.objects.filter(pk__in=ids.values()).update(consent_at=now, updated_at=now)
    ConsentEvent.objects.bulk_create(
        ConsentEvent(
            contact_id=pk,
            kind=ConsentEvent.Kind.CONSENT,
            source=ConsentEvent.Source.IMPORT,
            detail=sources[phone],
            rule="import column consent",
            occurred_at=now,
        )
        for phone, pk in ids.items()
    )
    return len(ids)


def contacts_import_csv(*, data: str) -> ImportOutcome:
    """Import CSV text at once (a shell, a test): the same rules as the admin's import."""
    try:
        dataset = contacts_dataset_load(content=data, file_format="csv")
    except ValidationError as exc:
        return ImportOutcome(problems=exc.messages)
    return contacts_import_dataset(dataset=dataset)


# --- the background job ------------------------------------------------------------------


def contact_import_create(*, content: bytes, file_name: str, file_format: str, user=None) -> ContactImport:
    """Check an uploaded file without reading it as a table (its size, its text, its rows
    counted, its columns from its head: contacts.import_files), record it and hand it to
    the background task (on commit), which reads it. Raises ValidationError: nothing
    recorded."""
    from contacts.tasks import contact_import_run_task
    from infra.background import task_enqueue

    if len(content) > settings.CONTACT_IMPORT_MAX_BYTES:
        raise ValidationError(file_too_large())
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError("The file is not UTF-8 text (save it as CSV UTF-8).") from exc
    text = text.replace("\x00", "")
    rows = contacts_file_check(content=text, file_format=file_format)
    with transaction.atomic():
        job = ContactImport.objects.create(
            file_name=file_name[:200],
            file_format=file_format,
            content=text,
            total=rows,
            created_by=user,
        )
        job_id = job.pk
        transaction.on_commit(lambda: task_enqueue(contact_import_run_task, args=(job_id,)))
    return job


def file_too_large() -> str:
    """Why a file past CONTACT_IMPORT_MAX_BYTES is refused, in a marketer's words."""
    limit = size_label(settings.CONTACT_IMPORT_MAX_BYTES)
    return f"The file is larger than {limit}: split it into smaller files."


def contact_import_run(*, import_id: int) -> None:
    """The task's body: run one recorded import, counting progress on its row. A second
    run of the same import (a redelivered task) does nothing."""
    claimed = ContactImport.objects.filter(pk=import_id, status=ContactImport.Status.QUEUED).update(
        status=ContactImport.Status.CHECKING
    )
    if not claimed:
        return
    job = ContactImport.objects.get(pk=import_id)

    def progress(stage: str, rows: int) -> None:
        status = ContactImport.Status.CHECKING if stage == "checking" else ContactImport.Status.IMPORTING
        ContactImport.objects.filter(pk=import_id).update(status=status, processed=rows)

    try:
        dataset = contacts_dataset_load(content=job.content, file_format=job.file_format)
        # The request counted the rows without reading the file; now they are known.
        ContactImport.objects.filter(pk=import_id).update(total=dataset.height)
        job.total = dataset.height
        outcome = contacts_import_dataset(dataset=dataset, progress=progress)
    except ValidationError as exc:
        outcome = ImportOutcome(problems=exc.messages)
    except Exception as exc:
        logger.exception("contact import %s failed", import_id)
        outcome = ImportOutcome(
            problems=[f"The import stopped: {type(exc).__name__}. Batches already written stay."]
        )
    ContactImport.objects.filter(pk=import_id).update(
        status=ContactImport.Status.FAILED if outcome.problems else ContactImport.Status.DONE,
        processed=job.total,
        created=outcome.created,
        updated=outcome.updated,
        unchanged=outcome.unchanged,
        problems=outcome.problems,
        content="" if not outcome.problems else job.content,
        finished_at=timezone.now(),
    )
