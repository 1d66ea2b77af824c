"""Contact services. Owner: engine (issue 3). Signatures are shared with other apps."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models.constants import OnConflict
from django.utils import timezone

from contacts.models import ConsentEvent, Contact


def contact_lock(*, contact_id: int, skip_locked: bool = False) -> Contact | None:
    """Inside the caller's transaction: the contact, its row locked — the first lock of every
    change a message makes (lock order: contact, then its messages, enrollments, outbound
    messages). ``FOR NO KEY UPDATE``: the webhook's INSERT of a message referencing the
    contact (a foreign-key check, ``FOR KEY SHARE``) never waits behind it. None when the
    contact does not exist (or, with `skip_locked`, is locked by someone else)."""
    return (
        Contact.objects.select_for_update(no_key=True, skip_locked=skip_locked).filter(pk=contact_id).first()
    )


def contact_insert_if_new(*, phone: str) -> int | None:
    """Create the contact for an E.164 `phone` unless it exists, in ONE statement that never
    fails on a duplicate (``INSERT … ON CONFLICT (phone) DO NOTHING``): the new contact's id,
    or None when the number is known (or a concurrent request created it a moment ago).

    For callers in autocommit that must not take a lock (the inbound webhook). It goes
    through the ORM's own insert compiler (``QuerySet._insert``, what ``save()`` and
    ``bulk_create()`` use), so field defaults and ``auto_now`` apply as in ``save()``;
    ``bulk_create(ignore_conflicts=True)`` would add a BEGIN/COMMIT around it and cannot
    say whether it inserted."""
    meta = Contact._meta
    fields = [f for f in meta.local_concrete_fields if not f.primary_key]
    rows = Contact.objects._insert(
        [Contact(phone=phone)], fields=fields, returning_fields=[meta.pk], on_conflict=OnConflict.IGNORE
    )
    return rows[0][0] if rows and rows[0] else None


def contact_opt_out_record(
    *, contact: "Contact", source: str, detail: str = "", actor: AbstractBaseUser | None = None
) -> bool:
    """Record that the contact opted out: the contact row (locked) and the consent log.
    False if it was opted out already. Ending its enrollments and canceling its unsent
    messages is the orchestrator's (automation.services.consent.contact_opt_out)."""
    with transaction.atomic():
        locked = contact_lock(contact_id=contact.pk)
        if locked.opted_out:
            contact.opted_out, contact.opted_out_at = True, locked.opted_out_at
            return False
        now = timezone.now()
        contact.opted_out, contact.opted_out_at = True, now
        Contact.objects.filter(pk=contact.pk).update(opted_out=True, opted_out_at=now, updated_at=now)
        ConsentEvent.objects.create(
            contact=contact,
            kind=ConsentEvent.Kind.OPT_OUT,
            source=source,
            detail=detail[:200],
            actor=actor,
            occurred_at=now,
        )
    return True


def contact_opt_in(
    *, contact: "Contact", source: str, detail: str = "", actor: AbstractBaseUser | None = None
) -> bool:
    """Opt an opted-out contact back in (no enrollment resumes). False if it was not opted out."""
    with transaction.atomic():
        locked = contact_lock(contact_id=contact.pk)
        if not locked.opted_out:
            contact.opted_out = False
            return False
        now = timezone.now()
        Contact.objects.filter(pk=contact.pk).update(opted_out=False, opted_out_at=None, updated_at=now)
        contact.opted_out, contact.opted_out_at = False, None
        ConsentEvent.objects.create(
            contact=contact,
            kind=ConsentEvent.Kind.OPT_IN,
            source=source,
            detail=detail[:200],
            actor=actor,
            occurred_at=now,
        )
    return True
