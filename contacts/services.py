"""Contact services. Signatures are shared with other apps."""

import functools
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import NOT_PROVIDED
from django.utils import timezone

from contacts.locks import contact_lock
from contacts.models import ConsentEvent, Contact

# What a new number's contact is created with on the message path (the webhook's one
# statement, contact_insert_if_new); every other column has a database default (db_default)
# or may be NULL.
NEW_CONTACT_COLUMNS = ("phone", "created_at", "updated_at")


def contact_new_fields() -> list:
    """The fields a new contact is inserted with by hand-built statements; raises
    ImproperlyConfigured when a column was added without a database default."""
    fields = [Contact._meta.get_field(n) for n in NEW_CONTACT_COLUMNS]
    left = [
        f.name
        for f in Contact._meta.local_concrete_fields
        if f not in fields and not f.primary_key and not f.null and f.db_default is NOT_PROVIDED
    ]
    if left:  # the statement would not know their value
        raise ImproperlyConfigured(f"Contact fields {left} need a db_default (see contacts.services).")
    return fields


@functools.cache
def _contact_insert_sql(vendor: str) -> str:
    meta = Contact._meta
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in contact_new_fields())
    phone, pk = qn(meta.get_field("phone").column), qn(meta.pk.column)
    # Identifiers come from the model and are quoted; values are parameters.
    return (
        f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES (%s, %s, %s) "  # noqa: S608
        f"ON CONFLICT ({phone}) DO NOTHING RETURNING {pk}"
    )


def contact_insert_if_new(*, phone: str) -> int | None:
    """Create the contact for an E.164 `phone` unless it exists, in ONE statement that never
    fails on a duplicate (``INSERT … ON CONFLICT (phone) DO NOTHING RETURNING id``): the new
    contact's id, or None when the number is known (or a concurrent request created it a
    moment ago). For callers in autocommit that must not take a lock (the inbound webhook).

    Hand-built (docs/architecture.md §4): bench/hand_sql.py, case 3, measures it against ``bulk_create(
    ignore_conflicts=True)`` and reading the id back — one statement instead of two, a sixth
    of the CPU (102 against 670 µs)."""
    now = timezone.now()
    created = list(Contact.objects.raw(_contact_insert_sql(connection.vendor), [phone, now, now]))
    return created[0].pk if created else None


def contact_opt_out_record(
    *,
    contact: "Contact",
    source: str,
    detail: str = "",
    actor: AbstractBaseUser | None = None,
    text: str = "",
    rule: str = "",
) -> bool:
    """Record that the contact opted out: the contact row (locked) and the consent log.
    False if it was opted out already. Ending its enrollments and canceling its unsent
    messages is the orchestrator's (automation.engine.consent.contact_opt_out)."""
    return _consent_change(
        contact, ConsentEvent.Kind.OPT_OUT,
        applies=lambda locked: not locked.opted_out,
        fields=lambda now: {"opted_out": True, "opted_out_at": now},
        source=source, detail=detail, actor=actor, text=text, rule=rule,
    )  # fmt: skip


def contact_consent_record(
    *,
    contact: "Contact",
    source: str,
    detail: str = "",
    actor: AbstractBaseUser | None = None,
    text: str = "",
    rule: str = "",
    at: datetime | None = None,
) -> bool:
    """Record the contact's marketing consent (docs/reference.md §5) and its source in the consent
    log. False when it is on record already, or the contact opted out: an opt-out is undone
    only by the contact's own opt-in word (contact_opt_in), never by recording consent.

    A person (`actor`, source admin) records it only with its reason in `detail` (where and
    when the contact gave it); the log keeps their name. `at`: when the contact gave it, if
    not now — the time of their message or event, so the log reads it before the
    enrollment it allowed (enrolled at that same time)."""
    if (actor is not None or source == ConsentEvent.Source.ADMIN) and not (actor and detail.strip()):
        raise ValueError("A person records consent with their name (actor) and its reason (detail).")
    return _consent_change(
        contact, ConsentEvent.Kind.CONSENT,
        applies=lambda locked: not locked.opted_out and locked.consent_at is None,
        fields=lambda now: {"consent_at": now},
        source=source, detail=detail, actor=actor, text=text, rule=rule, at=at,
    )  # fmt: skip


def contact_opt_in(*, contact: "Contact", text: str, rule: str, detail: str = "") -> bool:
    """The contact's own opt-in word (START, YES, UNSTOP, or Twilio's OptOutType START)
    takes back their opt-out; it is their consent to marketing texts too (no enrollment
    resumes). False if they were not opted out.

    The only way an opt-out is undone (docs/reference.md §5: only the contact takes it back): no
    person, import or API call does, so there is no source or actor to give — the consent
    log records the contact's own message (`text`) and the `rule` that recognised it."""
    return _consent_change(
        contact, ConsentEvent.Kind.OPT_IN,
        applies=lambda locked: locked.opted_out,
        fields=lambda now: {"opted_out": False, "opted_out_at": None, "consent_at": now},
        source=ConsentEvent.Source.KEYWORD, detail=detail, actor=None, text=text, rule=rule,
    )  # fmt: skip


def _consent_change(
    contact: "Contact", kind: str, *, applies, fields, source, detail, actor, text, rule, at=None
) -> bool:
    """Lock the contact; when `applies` to its row, write `fields(at or now)` to it (row and
    instance) and the change to the consent log at that time: True. Otherwise the instance
    takes the row's values of those fields and nothing is written: False."""
    with transaction.atomic():
        locked = contact_lock(contact_id=contact.pk)
        if not applies(locked):
            for name in fields(None):
                setattr(contact, name, getattr(locked, name))
            return False
        now = timezone.now()
        values = fields(at or now)
        Contact.objects.filter(pk=contact.pk).update(**values, updated_at=now)
        for name, value in values.items():
            setattr(contact, name, value)
        ConsentEvent.objects.create(
            contact=contact,
            kind=kind,
            source=source,
            detail=detail[:200],
            text=text[:2000],
            rule=rule[:100],
            actor=actor,
            actor_name=consent_actor_name(actor),
            occurred_at=at or now,
        )
    return True


def consent_actor_name(actor: AbstractBaseUser | None) -> str:
    """Who recorded a change, as the consent log keeps it (the user may be deleted later):
    "Full Name (username)", or the username."""
    if actor is None:
        return ""
    username = actor.get_username()
    full = actor.get_full_name().strip() if hasattr(actor, "get_full_name") else ""
    return (f"{full} ({username})" if full else username)[:200]
