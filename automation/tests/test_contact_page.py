"""The contact's page (issue 21, point 6): it opens on who the contact is and their timeline,
not on a form; editing is one click away (`…/edit/`, the admin's form: its permissions,
its history and its save buttons as ever); consent reads as consent, an opt-out as a
warning — for Marketers as for superusers."""

import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from automation.models import Enrollment
from automation.tests.factories import EnrollmentFactory, plan_make
from conftest import page_text
from contacts.models import ConsentEvent, Contact
from contacts.tests.factories import ContactFactory
from tracking.tests.factories import InteractionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["marketer", "superuser"])
def anyone(request, marketer_client, admin_client):
    return marketer_client if request.param == "marketer" else admin_client


@pytest.fixture
def ada():
    now = timezone.now()
    contact = ContactFactory(
        phone="+12125550123",
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        attributes={"vip": True, "size": "M", "favourites": ["tea", "cake"], "address": {"city": "London"}},
        consent_at=now - timedelta(days=2),
    )
    ConsentEvent.objects.create(
        contact=contact, kind="consent", source="admin", detail="signed up at the counter", occurred_at=now
    )
    plan = plan_make(name="Cart rescue")
    EnrollmentFactory(plan=plan, contact=contact, enrolled_at=now - timedelta(days=1))
    ended = EnrollmentFactory(
        plan=plan_make(name="Welcome"), contact=contact, enrolled_at=now - timedelta(days=9)
    )
    Enrollment.objects.filter(pk=ended.pk).update(status="completed")
    InteractionFactory(contact=contact, body="Where is my order?")
    return contact


def _page(client, contact, **params):
    response = client.get(reverse("admin:contacts_contact_change", args=[contact.pk]), params)
    assert response.status_code == 200
    return response


def test_the_page_opens_on_who_they_are_and_the_timeline_not_a_form(anyone, ada):
    response = _page(anyone, ada)
    assert response.templates[0].name == "admin/contacts/contact/contact_page.html"
    html = response.content.decode()
    text = page_text(response)
    # Who they are, in words; no form, no raw JSON.
    assert "<form" not in html.split('id="content-main"')[1].split('id="contact-timeline"')[0]
    assert 'name="attributes"' not in html and "&quot;vip&quot;" not in html
    assert '<dd id="contact-phone">+12125550123</dd>' in html and "Ada Lovelace" in text
    assert re.search(
        r'class="contact-badge consent-given" id="contact-consent">Marketing consent given', html
    )
    assert '<dd id="contact-opted-out">No</dd>' in html
    assert "Gave marketing consent · Admin · signed up at the counter" in text
    # Attributes as a table a person reads.
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th><td>([^<]*)</td></tr>', page_text(response))
    assert rows == [
        ("address.city", "London"),
        ("favourites", "tea, cake"),
        ("size", "M"),
        ("vip", "yes"),
    ]
    # The journeys they are in: the active one first, where it is now.
    journeys = re.findall(r'<li class="journey-(\w+)">\s*<a href="[^"]+">([^<]+)</a>', html)
    assert journeys == [("active", "Cart rescue"), ("completed", "Welcome")]
    assert "at “start” · enrolled" in text and "ended at “start”" in text
    # The timeline comes before the journeys and attributes, and holds the conversation.
    assert html.index('id="contact-timeline"') < html.index('id="contact-journeys"')
    assert html.index('id="contact-timeline"') < html.index('id="contact-attributes"')
    assert "Where is my order?" in text


def test_consent_in_the_timeline_is_styled_as_consent_and_an_opt_out_as_a_warning(anyone, ada):
    ConsentEvent.objects.create(
        contact=ada, kind="opt_out", source="keyword", detail="STOP", occurred_at=timezone.now()
    )
    Contact.objects.filter(pk=ada.pk).update(opted_out=True, opted_out_at=timezone.now())
    html = _page(anyone, ada).content.decode()
    assert re.search(
        r'<li class="event consent event-consent">\s*<span class="what">Gave marketing consent</span>', html
    )
    assert re.search(r'<li class="event consent event-opt_out">\s*<span class="what">Opted out</span>', html)
    assert 'class="contact-badge consent-opted_out"' in html
    # The stylesheet: consent green, an opt-out amber; neither the error's red.
    from django.contrib.staticfiles import finders

    css = open(finders.find("cockpit/cockpit.css")).read()  # noqa: SIM115
    consent = re.search(r"\.event\.consent\.event-consent[^{]*\{([^}]*)\}", css).group(1)
    opt_out = re.search(r"\.event\.consent\.event-opt_out\s*\{([^}]*)\}", css).group(1)
    assert "#1b5e20" in consent and "#b71c1c" not in consent
    assert "#7a4f00" in opt_out and "#b71c1c" not in opt_out


def test_edit_is_one_click_away_and_saves_back_to_the_page(anyone, ada):
    html = _page(anyone, ada).content.decode()
    edit = re.search(r'<a href="([^"]+)" class="contact-edit-link"', html).group(1)
    assert edit == f"/admin/contacts/contact/{ada.pk}/edit/"
    form = anyone.get(edit)
    assert form.status_code == 200 and "adminform" in form.context
    from automation.tests.admin_forms import form_data, formset_data

    data = form_data(form.context["adminform"].form) | {
        "first_name": "Augusta",
        "attributes": '{"vip": false}',
    }
    for formset in form.context["inline_admin_formsets"]:
        formset_data(formset.formset, data)
    response = anyone.post(edit, data)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/contacts/contact/{ada.pk}/change/"
    ada.refresh_from_db()
    assert (ada.first_name, ada.attributes) == ("Augusta", {"vip": False})
    # The admin's history has it.
    assert LogEntry.objects.filter(object_id=str(ada.pk), action_flag=2).count() == 1
    history = anyone.get(reverse("admin:contacts_contact_history", args=[ada.pk]))
    assert "Changed First name and Attributes." in page_text(history)
    # "Save and continue editing" stays on the form.
    data["_continue"] = "1"
    again = anyone.post(edit, data)
    assert again.status_code == 302 and again["Location"] == edit


def test_the_list_filters_go_along(anyone, ada):
    filters = quote("opted_out__exact=0")
    html = _page(anyone, ada, _changelist_filters="opted_out__exact=0").content.decode()
    assert f'href="/admin/contacts/contact/{ada.pk}/edit/?_changelist_filters={filters}"' in html
    assert f'href="/admin/contacts/contact/?{"opted_out__exact=0"}"' in html  # the breadcrumb back


def test_a_pop_up_still_gets_the_form(anyone, ada):
    response = _page(anyone, ada, _popup="1")
    assert "adminform" in response.context


def test_a_contact_that_is_not_there_and_a_bad_id_go_back_to_the_index(anyone):
    for object_id in ("999999", "not-a-number"):
        response = anyone.get(f"/admin/contacts/contact/{object_id}/change/")
        assert response.status_code == 302 and response["Location"] == "/admin/"
        response = anyone.get(f"/admin/contacts/contact/{object_id}/edit/")
        assert response.status_code == 302 and response["Location"] == "/admin/"


def test_who_may_not_see_contacts_gets_403_and_who_may_only_look_gets_no_edit_link(
    client, django_user_model, ada
):
    staff = django_user_model.objects.create_user("sam", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("admin:contacts_contact_change", args=[ada.pk])).status_code == 403
    assert client.get(reverse("admin:contacts_contact_edit", args=[ada.pk])).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_contact"))
    html = client.get(reverse("admin:contacts_contact_change", args=[ada.pk])).content.decode()
    assert "Ada Lovelace" in html and "contact-edit-link" not in html
    form = client.get(reverse("admin:contacts_contact_edit", args=[ada.pk]))
    assert form.status_code == 200 and 'name="_save"' not in form.content.decode()  # read only
    before = Contact.objects.get(pk=ada.pk).first_name
    client.post(reverse("admin:contacts_contact_edit", args=[ada.pk]), {"first_name": "Mallory"})
    assert Contact.objects.get(pk=ada.pk).first_name == before


def test_the_page_costs_the_same_queries_whatever_the_history(marketer_client, ada):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        _page(marketer_client, ada)  # (a process reads a published revision once: then cached)
        with CaptureQueriesContext(connection) as queries:
            _page(marketer_client, ada)
        return len(queries)

    few = count()
    for n in range(5):
        InteractionFactory(contact=ada, body="more")
        EnrollmentFactory(plan=plan_make(name=f"More {n}"), contact=ada)
    assert count() == few
