"""Row locks on contacts, the first lock of every change a message makes. The order every
transaction takes its locks in (contact, then enrollments, then outbound messages) is
written once, in ``automation.locks``."""

from django.db.models import QuerySet

from contacts.models import Contact


def contacts_qs_select_for_update(*, no_key: bool = True, skip_locked: bool = False) -> QuerySet[Contact]:
    """Contacts to lock inside the caller's transaction, in id order (several contacts are
    always locked in one order). ``FOR NO KEY UPDATE`` by default: the webhook's INSERT of
    a message referencing the contact (a foreign-key check, ``FOR KEY SHARE``) never waits
    behind it; `no_key=False` takes the full ``FOR UPDATE``. `skip_locked`: a contact
    another transaction holds is left out, never waited for (jobs beside live traffic)."""
    return Contact.objects.order_by("pk").select_for_update(no_key=no_key, skip_locked=skip_locked)


def contact_lock(*, contact_id: int, skip_locked: bool = False) -> Contact | None:
    """Inside the caller's transaction: the contact, its row locked (``FOR NO KEY UPDATE``).
    None when the contact does not exist (or, with `skip_locked`, is locked by someone
    else)."""
    return contacts_qs_select_for_update(skip_locked=skip_locked).filter(pk=contact_id).first()
