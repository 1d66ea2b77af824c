"""A marketer's text is data, not code (issue 9, points 1-3): templates render from a plain,
read-only context, cost a bounded amount, and are sent as written. Issue 18, point 1: a
name is a key or an index, never an attribute or a method."""

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from automation.models import BulkEnrollmentJob, Enrollment, Plan
from automation.tests.admin_forms import page_data
from automation.tests.factories import ask, plan_make
from contacts.tests.factories import ContactFactory
from messaging.models import DeliveryStatus, OutboundMessage

pytestmark = pytest.mark.django_db

PHONE = "+12125550142"


def _plan_sending(body: str) -> Plan:
    """An active catch-all plan whose start step sends `body` and waits."""
    return plan_make(slug="sandbox", name="Sandbox plan", steps=[ask("start", body, name="Start")])


def test_a_template_cannot_walk_relations_to_other_users_secrets(text_in, sms_outbox, django_user_model):
    victim = django_user_model.objects.create_superuser("victim", "v@example.com", "hunter2-secret")
    token = Token.objects.create(user=victim)
    exploit = (
        "A{{ enrollment.plan.bulk_jobs.all.0.created_by.auth_token.key }}"
        "B{{ enrollment.plan.bulk_jobs.all.0.created_by.password }}"
        "C{{ enrollment.complete }}D{{ contact.enrollments.all.0.complete }}"
        "E{{ contact.interactions.all }}F{{ contact.save }}G{{ contact.delete }}H"
    )
    plan = _plan_sending(exploit)
    BulkEnrollmentJob.objects.create(plan=plan, created_by=victim)

    text_in(PHONE, "hello")

    assert [m.body for m in sms_outbox] == ["ABCDEFGH"]
    assert token.key not in sms_outbox[0].body
    assert victim.password not in sms_outbox[0].body
    enrollment = Enrollment.objects.get(contact__phone=PHONE)
    assert enrollment.status == Enrollment.Status.ACTIVE  # no transition method was called
    assert django_user_model.objects.filter(pk=victim.pk).exists()


def test_a_template_sees_the_contact_its_attributes_and_the_plan(text_in, sms_outbox):
    ContactFactory(phone=PHONE, first_name="Ann", attributes={"city": "Oslo", "tags": ["vip"]})
    _plan_sending(
        "{{ contact.first_name }} in {{ contact.attributes.city }} ({{ contact.attributes.tags.0 }}), "
        "{{ enrollment.plan.name }} at {{ enrollment.state }}{{ contact.attributes.clear }}"
    )
    text_in(PHONE, "hello")
    text_in(PHONE, "again")  # nothing changed the contact's attributes while rendering
    assert sms_outbox[0].body.startswith("Ann in Oslo (vip), Sandbox plan at Start")
    from contacts.models import Contact

    assert Contact.objects.get(phone=PHONE).attributes == {"city": "Oslo", "tags": ["vip"]}


def test_texts_are_sent_as_written_without_html_escaping(text_in, sms_outbox):
    ContactFactory(phone=PHONE, first_name="Sinéad O'Brien", last_name='AT&T "Ltd" <3')
    _plan_sending("Hi {{ contact.first_name }} {{ contact.last_name }} & <friends>")
    text_in(PHONE, "hello")
    assert [m.body for m in sms_outbox] == ['Hi Sinéad O\'Brien AT&T "Ltd" <3 & <friends>']


def test_a_text_that_renders_past_the_cap_fails_that_message_not_the_request(text_in, sms_outbox):
    ContactFactory(phone=PHONE, attributes={"essay": "word " * 400})
    _plan_sending("Your essay: {{ contact.attributes.essay }}")
    text_in(PHONE, "hello")  # 200: the request is fine
    assert sms_outbox == []
    failed = OutboundMessage.objects.get(contact__phone=PHONE)
    assert failed.status == DeliveryStatus.FAILED
    assert "at most 1,600" in failed.error_message


def _post_plan(client, text: str):
    """Write `text` as the question of a plan's one step, on the step's page."""
    plan = plan_make(slug="texts", steps=[ask("start", "Hi")], publish=False)
    url = reverse("admin:automation_plan_step", args=[plan.pk, "start"])
    return client.post(url, page_data(client.get(url)) | {"text": text})


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (
            "{% for a in contact.first_name %}{% for b in contact.first_name %}x{% endfor %}{% endfor %}",
            "for",
        ),
        ("{% lorem 100000 w %}", "lorem"),
        ("{% load static %}hi", "load"),
        ("{% include 'admin/base.html' %}", "include"),
        ("{% debug %}", "debug"),
        ("{{ contact.first_name|ljust:'100000000' }}", "ljust"),
        ("{{ contact.first_name|center:'100000000' }}", "center"),
        ("x" * 5001, "5,000"),
    ],
)
def test_saving_a_text_with_what_a_text_has_no_use_for_is_refused(marketer_client, body, says):
    response = _post_plan(marketer_client, body)
    assert response.status_code == 200  # the form again, with the error
    assert Plan.objects.get(slug="texts").revisions.get().document["steps"][0]["text"] == "Hi"
    errors = " ".join(response.context["form"].errors["text"])
    assert says in errors


def test_saving_a_text_with_if_firstof_and_filters_is_accepted(marketer_client):
    body = (
        "{% if contact.first_name %}Hi {{ contact.first_name|title }}{% else %}Hi{% endif %}"
        "{% firstof contact.attributes.city 'there' %}"
    )
    response = _post_plan(marketer_client, body)
    assert response.status_code == 302, response.context["form"].errors
    assert Plan.objects.get(slug="texts").revisions.get().document["steps"][0]["text"] == body


def test_the_preview_shows_the_text_as_sent_and_refuses_loops(marketer_client):
    url = reverse("sms_preview")
    data = marketer_client.post(url, {"body": "Tom & Jerry's <deal>"}).json()
    assert data["body"] == "Tom & Jerry's <deal>"
    data = marketer_client.post(url, {"body": "{% for x in 'ab' %}{{ x }}{% endfor %}"}).json()
    assert data["ok"] is False
    assert "{% for %} cannot be used" in data["error"]


# --- issue 18: names are looked up, never called ------------------------------------------


def test_a_template_calls_no_method_and_reads_no_attribute(text_in, sms_outbox):
    ContactFactory(
        phone=PHONE, first_name="Ann", attributes={"tags": ["vip", "new"], "points": 7, "items": "a key"}
    )
    _plan_sending(
        "A{{ contact.phone.encode }}B{{ contact.attributes.keys }}C{{ contact.attributes.values }}"
        "D{{ contact.attributes.get }}E{{ contact.first_name.upper }}F{{ contact.attributes.tags.count }}"
        "G{{ contact.attributes.points.real }}H{{ enrollment.enrolled_at.isoformat }}"
        "I{{ enrollment.enrolled_at.year }}J{{ enrollment.plan.copy }}K{% firstof contact.phone.strip '-' %}"
        "L{% if contact.first_name.upper %}M{% endif %}x|"
        "{{ contact.attributes.items }}|{{ contact.first_name|upper }} {{ contact.attributes.tags.0 }} "
        "{{ contact.attributes.tags|join:'+' }} {{ contact.attributes.points|add:5 }} "
        "{{ enrollment.enrolled_at|date:'Y' }} {{ contact.first_name.0 }}"
    )
    text_in(PHONE, "hello")
    year = timezone.localtime(Enrollment.objects.get().enrolled_at).year
    assert [m.body for m in sms_outbox] == [f"ABCDEFGHIJK-Lx|a key|ANN vip vip+new 12 {year} A"]
