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


def test_no_service_takes_back_an_opt_out_and_a_person_s_consent_needs_a_reason(django_user_model):
    """The guard under every door (docs/reference.md §5): recording consent never touches an opt-out;
    taking one back has no source or person to give (only the contact's own message);
    a person records consent only with their name and a reason."""
    import pytest

    from contacts.services import contact_consent_record, contact_opt_in

    person = django_user_model.objects.create_user("ann")
    opted_out = ContactFactory(opted_out=True)
    for source in ("admin", "import", "api", "event"):
        assert contact_consent_record(contact=opted_out, source=source, detail="asked", actor=person) is False
    with pytest.raises(TypeError):
        contact_opt_in(contact=opted_out, source="admin", actor=person, text="", rule="")  # type: ignore[call-arg]
    contact = ContactFactory()
    with pytest.raises(ValueError, match="reason"):
        contact_consent_record(contact=contact, source="admin", actor=person)
    with pytest.raises(ValueError, match="reason"):
        contact_consent_record(contact=contact, source="admin", detail="web form")  # nobody's name
    assert contact_consent_record(contact=contact, source="admin", actor=person, detail="web form") is True
    assert not Contact.objects.get(pk=opted_out.pk).consent_events.exists()
    assert Contact.objects.get(pk=opted_out.pk).consent == "opted_out"
    event = ConsentEvent.objects.get()
    assert (event.kind, event.detail, event.actor_name) == ("consent", "web form", "ann")
