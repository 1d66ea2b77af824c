"""Marketing consent (docs/reference.md §5): on record with its source in the consent log, given by a
keyword, an opt-in word, an import column or a person; never taken away by an import;
an opt-out wins."""

import pytest

from automation.tests.factories import ask, plan_make
from conftest import INVITE, bodies, command_refused
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
    assert bodies(sms_outbox) == [INVITE]
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
    url = reverse("admin:contacts_contact_edit", args=[contact.pk])
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


def test_the_consent_log_keeps_the_name_of_the_person_who_recorded_it(
    client, admin_client, django_user_model
):
    """A person's consent is in the log with their name and reason, even once their user is
    deleted (an audit outlives staff accounts)."""
    import csv
    import io

    from django.contrib.auth.models import Group
    from django.urls import reverse

    from automation.tests.admin_forms import form_data, formset_data

    marketer = django_user_model.objects.create_user(
        "ann.lee", first_name="Ann", last_name="Lee", is_staff=True
    )
    marketer.groups.add(Group.objects.get(name="Marketers"))
    client.force_login(marketer)
    contact = ContactFactory(phone=PHONE)
    url = reverse("admin:contacts_contact_edit", args=[contact.pk])
    page = client.get(url)
    reason = "paper form at the counter, 2026-05-01"
    data = form_data(page.context["adminform"].form) | {"consent_source": reason}
    for formset in page.context["inline_admin_formsets"]:
        formset_data(formset.formset, data)
    assert client.post(url, data).status_code == 302

    marketer.delete()

    response = admin_client.get(reverse("admin:contacts_consentevent_export"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["kind"], r["source"], r["detail"], r["by"]) for r in rows] == [
        ("consent", "admin", reason, "Ann Lee (ann.lee)")
    ]
    page = reverse("admin:contacts_contact_change", args=[contact.pk])
    assert "by Ann Lee (ann.lee)" in admin_client.get(page).content.decode()  # the contact's timeline


def test_consent_reads_before_the_enrollment_it_allowed(text_in, sms_outbox):
    """Issue 18: the consent log showed consent 6 ms after the enrollment it allowed. The
    entry keyword's consent is given when the message came, the time it enrolls at."""
    from automation.cockpit.timeline import contact_timeline
    from automation.models import Enrollment

    plan_make(slug="deals", entry={"trigger": "keyword", "keywords": ["DEALS"]}, steps=[ask("hi", "Hi!")])
    text_in(PHONE, "Deals!")
    contact = Contact.objects.get(phone=PHONE)
    consent, enrollment = ConsentEvent.objects.get(contact=contact), Enrollment.objects.get(contact=contact)
    assert consent.occurred_at <= enrollment.enrolled_at
    assert contact.consent_at == consent.occurred_at
    kinds = [e.kind for e in contact_timeline(contact=contact).entries]
    assert kinds.index("consent") < kinds.index("enrolled")


def test_an_opt_in_word_s_consent_reads_before_the_enrollment_it_made(text_in, sms_outbox):
    """YES from a contact with no consent on record is consent, and here a plan's entry
    keyword too: consent first."""
    from automation.models import Enrollment

    plan_make(slug="yes", entry={"trigger": "keyword", "keywords": ["YES"]}, steps=[ask("hi", "Hi!")])
    text_in(PHONE, "yes")
    contact = Contact.objects.get(phone=PHONE)
    consent, enrollment = ConsentEvent.objects.get(contact=contact), Enrollment.objects.get(contact=contact)
    assert (consent.kind, consent.rule) == ("consent", "opt-in word YES")
    assert consent.occurred_at <= enrollment.enrolled_at


def _double_opt_in_plan(**extra):
    return plan_make(
        slug="vip-deals",
        entry={"trigger": "keyword", "keywords": ["VIP"]},
        double_opt_in=True,
        steps=[
            ask(
                "confirm", "Acme: reply YES to get VIP deals. Msg & data rates may apply.", [("YES", "deal")]
            ),
            ask("deal", "Here is your first VIP deal!"),
        ],
        **extra,
    )


def test_double_opt_in_records_consent_on_the_yes_not_on_the_keyword(text_in, sms_outbox):
    _double_opt_in_plan()
    text_in(PHONE, "VIP")
    assert Contact.objects.get(phone=PHONE).consent == "none"  # asked, not yet confirmed
    assert bodies(sms_outbox) == ["Acme: reply YES to get VIP deals. Msg & data rates may apply."]
    text_in(PHONE, "yes")
    assert Contact.objects.get(phone=PHONE).consent == "opted_in"
    event = ConsentEvent.objects.get()
    assert (event.kind, event.rule, event.text) == ("consent", "opt-in word YES", "yes")
    assert bodies(sms_outbox)[-1] == "Here is your first VIP deal!"


def test_double_opt_in_needs_a_first_step_that_asks_for_yes(tmp_path):

    from automation.tests.factories import plan_document, plan_file, send

    document = plan_document(slug="bad", double_opt_in=True, steps=[send("hi", "Deals!")])
    err = command_refused("plan_import", plan_file(tmp_path, document, "bad.json"))
    assert "plan, double_opt_in: the first step must ask for a YES" in err


def test_a_plan_without_double_opt_in_exports_as_it_was(tmp_path):
    import io

    from django.core.management import call_command

    plan_make(slug="plain")
    out = io.StringIO()
    call_command("plan_export", "plain", stdout=out)
    assert "double_opt_in" not in out.getvalue()
    _double_opt_in_plan()
    out = io.StringIO()
    call_command("plan_export", "vip-deals", stdout=out)
    assert '"double_opt_in": true' in out.getvalue()
