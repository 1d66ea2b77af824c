"""Consent across the apps: an opt-out is recorded by contacts, and then the journeys end and
the unsent messages are canceled — automation orchestrates all three, in one transaction
that takes its locks in the one order (``automation.locks``)."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from automation.engine.enrollments import enrollment_end
from automation.locks import enrollments_qs_select_for_update
from automation.models import Enrollment
from contacts.models import ConsentEvent, Contact
from contacts.services import contact_opt_out_record
from messaging.services import outbound_cancel_unsent
from messaging.services.policy import CODE_OPTED_OUT


def contact_opt_out(
    *,
    contact: Contact,
    source: str,
    detail: str = "",
    actor: AbstractBaseUser | None = None,
    text: str = "",
    rule: str = "",
) -> bool:
    """Opt the contact out (consent log: `text` as the contact wrote it, the `rule` that
    recognised it), end its active enrollments as opted_out, cancel its unsent messages.
    Returns False if it was opted out already (nothing changes)."""
    with transaction.atomic():
        recorded = contact_opt_out_record(
            contact=contact, source=source, detail=detail, actor=actor, text=text, rule=rule
        )
        if not recorded:
            return False
        contact_journeys_end(contact=contact, reason=f"Opted out ({source}{': ' + detail if detail else ''})")
        # A message already being handed to the provider is stopped by the send-time check.
        outbound_cancel_unsent(contact=contact, reason="Contact opted out.")
    return True


def contact_carrier_opt_out(*, contact_id: int) -> bool:
    """The carrier says the number opted out (Twilio error 21610, in the answer to a send or
    in a status callback: both come here): the contact is opted out like any other opt-out
    (``contact_opt_out``, in one transaction: the consent log with source "carrier", its
    journeys ended, its unsent messages canceled). False when it was opted out already or is
    gone."""
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        return False
    return contact_opt_out(contact=contact, source=ConsentEvent.Source.CARRIER, detail=CODE_OPTED_OUT)


def contact_journeys_end(*, contact: Contact, reason: str) -> int:
    """Inside the caller's transaction, the contact locked: end the contact's active
    enrollments as opted_out. Returns how many (0 when they ended already)."""
    active = enrollments_qs_select_for_update().filter(contact=contact, status=Enrollment.Status.ACTIVE)
    ended = 0
    for enrollment in active:
        enrollment_end(enrollment=enrollment, status=Enrollment.Status.OPTED_OUT, reason=reason)
        ended += 1
    return ended
