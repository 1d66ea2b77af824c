"""An opt-out across the apps (automation.engine.consent): the consent log, the journeys
ended, the unsent messages canceled; and opting back in resumes nothing."""

import pytest
from django.contrib.auth import get_user_model

from automation.engine.consent import contact_opt_out
from automation.models import Enrollment
from automation.tests.factories import EnrollmentFactory
from contacts.models import ConsentEvent, Contact
from contacts.services import contact_opt_in
from contacts.tests.factories import ContactFactory
from messaging.models import DeliveryStatus, OutboundMessage
from messaging.services import outbound_queue

pytestmark = pytest.mark.django_db


def queued_and_sent(contact):
    queued = outbound_queue(contact=contact, body="queued one", purpose="bulk", answers_contact=True)
    sent = outbound_queue(contact=contact, body="sent one", purpose="bulk", answers_contact=True)
    OutboundMessage.objects.filter(pk=sent.pk).update(status=DeliveryStatus.SENT)
    return queued, sent


def test_opt_out_ends_enrollments_cancels_unsent_messages_and_logs_consent():
    admin = get_user_model().objects.create_user("ops")
    enrollment = EnrollmentFactory()
    contact = enrollment.contact
    queued, sent = queued_and_sent(contact)  # on_commit never runs here: both stay unsent until marked

    assert contact_opt_out(
        contact=contact, source=ConsentEvent.Source.ADMIN, detail="asked by phone", actor=admin
    )

    contact = Contact.objects.get(pk=contact.pk)
    assert contact.opted_out is True and contact.opted_out_at is not None
    assert Enrollment.objects.get(pk=enrollment.pk).status == "opted_out"
    assert OutboundMessage.objects.get(pk=queued.pk).status == DeliveryStatus.CANCELED
    assert OutboundMessage.objects.get(pk=sent.pk).status == DeliveryStatus.SENT
    event = ConsentEvent.objects.get()
    assert (event.kind, event.source, event.detail, event.actor) == (
        "opt_out",
        "admin",
        "asked by phone",
        admin,
    )


def test_opt_out_twice_changes_nothing_the_second_time():
    contact = ContactFactory()
    assert contact_opt_out(contact=contact, source="api") is True
    assert contact_opt_out(contact=contact, source="api") is False
    assert ConsentEvent.objects.count() == 1


def test_opt_in_only_for_opted_out_contacts_and_resumes_nothing():
    enrollment = EnrollmentFactory()
    contact = enrollment.contact
    assert contact_opt_in(contact=contact, text="START", rule="keyword START") is False
    contact_opt_out(contact=contact, source="keyword", detail="STOP")
    assert contact_opt_in(contact=contact, text="START", rule="keyword START", detail="START") is True
    contact = Contact.objects.get(pk=contact.pk)
    assert (contact.opted_out, contact.opted_out_at) == (False, None)
    assert Enrollment.objects.get(pk=enrollment.pk).status == "opted_out"
    assert list(ConsentEvent.objects.values_list("kind", "detail")) == [
        ("opt_out", "STOP"),
        ("opt_in", "START"),
    ]
