"""Contact services: insert-if-new, and the consent log's opt-out and opt-in records (the
whole opt-out, journeys and messages included, is automation's: automation/tests/test_consent.py)."""

import pytest

from contacts.models import ConsentEvent, Contact
from contacts.services import contact_insert_if_new, contact_opt_out_record
from contacts.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_insert_if_new_creates_once_and_never_fails_on_a_known_number():
    first = contact_insert_if_new(phone="+12125550123")
    assert first == Contact.objects.get(phone="+12125550123").pk
    assert contact_insert_if_new(phone="+12125550123") is None  # known: nothing, no error
    assert Contact.objects.count() == 1


def test_the_opt_out_record_is_the_contact_row_and_one_consent_event():
    contact = ContactFactory()
    assert contact_opt_out_record(contact=contact, source="api", detail="by API") is True
    assert contact_opt_out_record(contact=contact, source="api") is False
    contact = Contact.objects.get(pk=contact.pk)
    assert contact.opted_out and contact.opted_out_at is not None
    assert list(ConsentEvent.objects.values_list("kind", "source", "detail")) == [
        ("opt_out", "api", "by API")
    ]
