"""Marketing consent (CONTRACT §5): on record with its source in the consent log, given by a
keyword, an opt-in word, an import column or a person; never taken away by an import;
an opt-out wins."""

import pytest

from automation.tests.factories import ask, plan_make
from contacts.imports import contacts_import_csv
from contacts.models import ConsentEvent, Contact
from contacts.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

PHONE = "+12125550123"


def test_an_entry_keyword_is_consent_with_its_text(text_in, sms_outbox):
    plan_make(
        slug="deals", entry={"trigger": "keyword", "keywords": ["DEALS"]}, steps=[ask("hi", "Welcome!")]
    )
    text_in(PHONE, "Deals!")
    contact = Contact.objects.get(phone=PHONE)
    assert contact.consent == "opted_in" and contact.consent_at is not None
    event = ConsentEvent.objects.get(contact=contact)
    assert (event.kind, event.source, event.text, event.rule) == (
        "consent", "keyword", "Deals!", "entry keyword DEALS of deals",
    )  # fmt: skip
    text_in(PHONE, "STOP")
    assert Contact.objects.get(phone=PHONE).consent == "opted_out"
    text_in(PHONE, "START")
    assert Contact.objects.get(phone=PHONE).consent == "opted_in"
    assert list(ConsentEvent.objects.values_list("kind", flat=True)) == ["consent", "opt_out", "opt_in"]


def test_any_message_is_answered_but_is_not_consent(demo_plan, text_in, sms_outbox):
    text_in(PHONE, "hello")
    assert [m.body for m in sms_outbox] == ["Hi! Reply QUOTE to get your exclusive discount."]
    assert Contact.objects.get(phone=PHONE).consent == "none"


def test_an_import_records_consent_with_its_source_and_never_takes_it_away():
    ContactFactory(phone="+14155550101")
    ContactFactory(phone="+14155550102", opted_out=True)
    csv = (
        "phone,first_name,consent,consent_source\n"
        "+14155550101,Ann,yes,web form 2026-05-01\n"
        "+14155550102,Bob,yes,web form 2026-05-01\n"
        "+14155550103,Cy,,\n"
        "+14155550104,Di,Y,shop counter\n"
    )
    outcome = contacts_import_csv(data=csv)
    assert outcome.problems == [] and outcome.consented == 2
    consent = dict(Contact.objects.values_list("phone", "consent_at"))
    assert consent["+14155550101"] and consent["+14155550104"]
    assert consent["+14155550102"] is None  # opted out: only their own START undoes it
    assert consent["+14155550103"] is None
    event = ConsentEvent.objects.get(contact__phone="+14155550101")
    assert (event.kind, event.source, event.detail) == ("consent", "import", "web form 2026-05-01")
    # A later import saying nothing, or no, takes nothing away.
    assert contacts_import_csv(data="phone,consent\n+14155550101,no\n").problems == []
    assert Contact.objects.get(phone="+14155550101").consent == "opted_in"


def test_an_import_without_a_source_for_consent_is_refused_whole():
    outcome = contacts_import_csv(data="phone,consent\n+14155550101,yes\n+14155550102,maybe\n")
    assert outcome.problems == [
        "row 1: consent_source: say where the consent was given, e.g. “web form, 2026-05-01”.",
        "row 2: consent: 'maybe' is neither yes nor no.",
    ]
    assert not Contact.objects.exists()


def test_a_person_records_consent_on_the_contact_page_with_its_source(admin_client, admin_user):
    from django.urls import reverse

    from automation.tests.admin_forms import form_data, formset_data

    contact = ContactFactory(phone=PHONE)
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    page = admin_client.get(url)
    assert "None on record" in page.content.decode()
    data = form_data(page.context["adminform"].form) | {"consent_source": "signed up at the counter"}
    for formset in page.context["inline_admin_formsets"]:
        formset_data(formset.formset, data)
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    contact.refresh_from_db()
    assert contact.consent == "opted_in"
    event = ConsentEvent.objects.get(contact=contact)
    assert (event.kind, event.source, event.detail, event.actor) == (
        "consent", "admin", "signed up at the counter", admin_user,
    )  # fmt: skip
