"""The contact admin: phone normalisation, search by any phone format, filters, read-only
history inlines, the opt-out action, and no door that takes back an opt-out (only the
contact's START does, docs/reference.md §5)."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from automation.models import BulkEnrollmentJob, Enrollment
from automation.tests.admin_forms import form_data, formset_data
from automation.tests.factories import EnrollmentFactory, ask, plan_make
from conftest import bodies, page_text
from contacts.models import ConsentEvent, Contact
from contacts.tests.factories import ContactFactory
from tracking.models import GoalConversion
from tracking.tests.factories import GoalFactory, InteractionFactory

pytestmark = pytest.mark.django_db


def _management_forms(page: str) -> dict:
    """The inline management forms of a rendered admin page, as a browser would post them."""
    fields = re.findall(r'name="([\w-]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"[^>]*value="(\d*)"', page)
    fields += [
        (n, v)
        for v, n in re.findall(
            r'value="(\d*)"[^>]*name="([\w-]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"', page
        )
    ]
    return dict(fields)


def _add(admin_client, **fields):
    url = reverse("admin:contacts_contact_add")
    data = _management_forms(admin_client.get(url).content.decode())
    data.update({"attributes": "{}", **fields})
    return admin_client.post(url, data)


def _changelist(admin_client, **params):
    response = admin_client.get(reverse("admin:contacts_contact_changelist"), params)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


# --- phone in the form ---------------------------------------------------------------------


def test_add_normalises_a_national_number(admin_client, settings):
    settings.PHONE_DEFAULT_REGION = "US"
    response = _add(admin_client, phone="(212) 555-0199", first_name="Ada")
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Contact.objects.get(first_name="Ada").phone == "+12125550199"


def test_add_with_a_bad_phone_is_a_form_error(admin_client):
    response = _add(admin_client, phone="call me maybe", first_name="Ada")
    assert response.status_code == 200
    assert "is not a phone number" in response.content.decode()
    assert not Contact.objects.exists()


def test_same_number_in_another_format_is_a_duplicate(admin_client):
    ContactFactory(phone="+12125550199")
    response = _add(admin_client, phone="212-555-0199")
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Contact.objects.count() == 1


# --- search and filters --------------------------------------------------------------------


@pytest.mark.parametrize(
    "term", ["+12125550123", "+1 212 555 0123", "(212) 555-0123", "212.555.0123", "Lovelace", "ada"]
)
def test_search_finds_the_contact_by_any_phone_format_or_name(admin_client, term):
    ada = ContactFactory(phone="+12125550123", first_name="Ada", last_name="Lovelace")
    ContactFactory(phone="+12125550999", first_name="Bob", last_name="Smith")
    assert _changelist(admin_client, q=term) == [ada]


def test_search_with_garbage_finds_nothing_and_does_not_crash(admin_client):
    ContactFactory(phone="+12125550123")
    assert _changelist(admin_client, q="+1 (((") == []


def test_filters_opted_out_plan_and_enrollment_status(admin_client):
    plan = plan_make(name="Spring")
    other = plan_make(name="Autumn")
    in_spring = EnrollmentFactory(plan=plan).contact
    in_autumn = EnrollmentFactory(plan=other).contact
    Enrollment.objects.filter(contact=in_autumn).update(status="completed")
    opted = ContactFactory(opted_out=True)
    assert _changelist(admin_client, opted_out__exact="1") == [opted]
    assert _changelist(admin_client, enrollments__plan__id__exact=plan.pk) == [in_spring]
    assert _changelist(admin_client, enrollments__status="completed") == [in_autumn]
    assert _changelist(admin_client, enrollments__status="active") == [in_spring]


# --- history inlines ------------------------------------------------------------------------


def test_change_page_shows_read_only_history(admin_client):
    enrollment = EnrollmentFactory()
    contact = enrollment.contact
    interaction = InteractionFactory(contact=contact, body="QUOTE please", enrollment=enrollment)
    goal = GoalFactory(name="Quote requested")
    GoalConversion.objects.create(
        contact=contact,
        goal=goal,
        enrollment=enrollment,
        interaction=interaction,
        points=10,
        occurred_at=timezone.now(),
    )
    ConsentEvent.objects.create(
        contact=contact, kind="opt_in", source="keyword", detail="START", occurred_at=timezone.now()
    )
    # The contact's page shows it all on the timeline; its form (one click away) in inlines.
    shown = admin_client.get(reverse("admin:contacts_contact_change", args=[contact.pk])).content.decode()
    page = admin_client.get(reverse("admin:contacts_contact_edit", args=[contact.pk])).content.decode()
    for text in ("QUOTE please", "Quote requested", enrollment.plan.name, "START"):
        assert text in shown and text in page, text
    # Read-only: the rows are shown as text, never as inputs, and no row can be added.
    for prefix, field in [
        ("interactions", "body"),
        ("goal_conversions", "goal"),
        ("enrollments", "plan"),
        ("consent_events", "kind"),
    ]:
        assert f'name="{prefix}-TOTAL_FORMS"' in page
        assert f'name="{prefix}-0-{field}"' not in page
        assert f'id="{prefix}-empty"' not in page


def test_saving_a_contact_keeps_its_history(admin_client):
    enrollment = EnrollmentFactory()
    contact = enrollment.contact
    InteractionFactory(contact=contact, enrollment=enrollment)
    url = reverse("admin:contacts_contact_edit", args=[contact.pk])
    data = _management_forms(admin_client.get(url).content.decode())
    data.update({"phone": contact.phone, "first_name": "Renamed", "attributes": "{}"})
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Contact.objects.get(pk=contact.pk).first_name == "Renamed"
    assert contact.interactions.count() == 1
    assert Enrollment.objects.filter(contact=contact).count() == 1


# --- consent actions ------------------------------------------------------------------------


def test_the_opt_out_action_goes_through_the_consent_log(admin_client, admin_user):
    enrollment = EnrollmentFactory()
    contact = enrollment.contact
    url = reverse("admin:contacts_contact_changelist")
    response = admin_client.post(url, {"action": "opt_out", "_selected_action": [contact.pk]}, follow=True)
    assert response.status_code == 200
    contact = Contact.objects.get(pk=contact.pk)
    assert contact.opted_out
    assert Enrollment.objects.get(pk=enrollment.pk).status == "opted_out"
    event = ConsentEvent.objects.get(contact=contact)
    assert (event.kind, event.source, event.actor, event.actor_name) == (
        "opt_out",
        "admin",
        admin_user,
        "admin",
    )


PHONE = "+12125550123"


def test_only_the_contact_takes_back_an_opt_out(
    marketer_client, text_in, sms_outbox, django_capture_on_commit_callbacks
):
    """Issue 18: a contact texts STOP; a Marketer selected it, ran "opt in", then "Enroll in a
    plan…", and the contact was texted again. No admin action takes back an opt-out (docs/reference.md
    §5); the contact's own START does."""
    plan_make(
        slug="deals", entry={"trigger": "keyword", "keywords": ["DEALS"]}, steps=[ask("hi", "Welcome!")]
    )
    news = plan_make(
        slug="news", entry={"trigger": "keyword", "keywords": ["NEWS"]}, steps=[ask("n", "Our news!")]
    )
    text_in(PHONE, "DEALS")  # consent on record (the entry keyword), then…
    text_in(PHONE, "STOP")
    contact = Contact.objects.get(phone=PHONE)
    sms_outbox.clear()
    url = reverse("admin:contacts_contact_changelist")

    page = marketer_client.get(url)
    assert [name for name, _ in page.context["action_form"].fields["action"].choices if name] == [
        "opt_out",
        "enroll_in_plan",
    ]
    marketer_client.post(url, {"action": "opt_in", "_selected_action": [contact.pk]}, follow=True)
    contact.refresh_from_db()
    assert (contact.opted_out, contact.consent) == (True, "opted_out")
    assert list(contact.consent_events.values_list("kind", flat=True)) == ["consent", "opt_out"]

    enroll = {"action": "enroll_in_plan", "_selected_action": [contact.pk], "plan": news.pk, "apply": "1"}
    with django_capture_on_commit_callbacks(execute=True):
        marketer_client.post(url, enroll)
    job = BulkEnrollmentJob.objects.get()
    assert (job.enrolled, job.skipped_opted_out) == (0, 1)
    assert sms_outbox == [] and not Enrollment.objects.filter(plan=news).exists()

    text_in(PHONE, "START")  # the contact's own word: opted in, and their consent to texts
    contact.refresh_from_db()
    assert (contact.opted_out, contact.consent) == (False, "opted_in")
    with django_capture_on_commit_callbacks(execute=True):
        marketer_client.post(url, enroll)
    assert bodies(sms_outbox) == ["Our news!"]


def test_consent_is_never_recorded_for_an_opted_out_contact_on_its_page(marketer_client):
    contact = ContactFactory(phone=PHONE, first_name="Ann", opted_out=True, opted_out_at=timezone.now())
    url = reverse("admin:contacts_contact_edit", args=[contact.pk])
    page = marketer_client.get(url)
    data = form_data(page.context["adminform"].form) | {
        "first_name": "Anne",
        "consent_source": "she called us, 2026-05-01",
    }
    for formset in page.context["inline_admin_formsets"]:
        formset_data(formset.formset, data)

    response = marketer_client.post(url, data)

    assert response.status_code == 200  # the page again, with the reason; nothing changed
    assert "Only the contact can take back an opt-out, by texting START." in page_text(response)
    contact.refresh_from_db()
    assert (contact.first_name, contact.consent) == ("Ann", "opted_out")
    assert not contact.consent_events.exists()


def test_an_opted_out_contact_is_never_deleted_its_opt_out_is_kept(admin_client):
    """Deleted, an opt-out would be gone: the same number, made again by an import or an
    event with opt_in, would be texted."""
    opted_out = ContactFactory(phone=PHONE, opted_out=True, opted_out_at=timezone.now())
    other = ContactFactory(phone="+12125550124")
    url = reverse("admin:contacts_contact_changelist")

    assert admin_client.get(reverse("admin:contacts_contact_delete", args=[opted_out.pk])).status_code == 403
    for selected in ([opted_out.pk], [opted_out.pk, other.pk]):
        response = admin_client.post(
            url, {"action": "delete_selected", "_selected_action": selected, "post": "yes"}, follow=True
        )
        assert "Nothing was deleted: 1 of the selected contacts opted out" in page_text(response)
    assert Contact.objects.count() == 2

    admin_client.post(url, {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"})
    assert list(Contact.objects.values_list("phone", flat=True)) == [PHONE]


def test_opt_out_twice_changes_nothing_more(admin_client):
    contact = ContactFactory()
    url = reverse("admin:contacts_contact_changelist")
    admin_client.post(url, {"action": "opt_out", "_selected_action": [contact.pk]})
    admin_client.post(url, {"action": "opt_out", "_selected_action": [contact.pk]})
    assert ConsentEvent.objects.filter(contact=contact).count() == 1
