"""A marketer's text is data, not code (issue 9, points 1-3): templates render from a plain,
read-only context, cost a bounded amount, and are sent as written. Issue 18, point 1: a
name is a key or an index, never an attribute or a method; a text is bounded in memory and
time, not only in length (what a filter makes, how deep blocks nest, the work of a render)."""

import tracemalloc

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from automation.models import BulkEnrollmentJob, Enrollment, Plan
from automation.tests.admin_forms import post_step
from automation.tests.factories import ask, plan_document, plan_file, plan_make
from conftest import bodies, command_refused
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

    assert bodies(sms_outbox) == ["ABCDEFGH"]
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
    assert bodies(sms_outbox) == ['Hi Sinéad O\'Brien AT&T "Ltd" <3 & <friends>']


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
    return post_step(client, plan, "start", text=text)


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
    assert bodies(sms_outbox) == [f"ABCDEFGHIJK-Lx|a key|ANN vip vip+new 12 {year} A"]


# --- issue 18: bounded in memory and time -------------------------------------------------

# The report's text: 27 nested {% with %}, each doubling a 16-character text (2 GB at the end).
DOUBLING = (
    "{% with a0='0123456789abcdef' %}"
    + "".join(f"{{% with a{i}=a{i - 1}|add:a{i - 1} %}}" for i in range(1, 28))
    + "{{ a27|length }}"
    + "{% endwith %}" * 28
)
WITH_NESTING = "{% with %} may be nested at most 3 deep (one {% with a=… b=… %} can name several values)."


def test_the_reports_doubling_text_is_refused_at_plan_import(tmp_path):
    document = plan_document(slug="doubling", steps=[ask("start", DOUBLING)])
    err = command_refused("plan_import", plan_file(tmp_path, document))
    assert err.strip() == f"step 'start', text: {WITH_NESTING}"
    assert not Plan.objects.exists()


def test_the_text_preview_refuses_the_reports_doubling_text(marketer_client):
    data = marketer_client.post(reverse("sms_preview"), {"body": DOUBLING}).json()
    assert data == {"ok": False, "error": WITH_NESTING}


def _with(depth: int) -> str:
    names = "".join(f"{{% with a{i}=a{i - 1}|add:'x' %}}" for i in range(1, depth))
    return "{% with a0='x' %}" + names + f"{{{{ a{depth - 1} }}}}" + "{% endwith %}" * depth


def _ifs(depth: int) -> str:
    return (
        "{% with a='x' %}"
        + "{% if a %}" * (depth - 1)
        + "{{ a }}"
        + "{% endif %}" * (depth - 1)
        + "{% endwith %}"
    )


def _condition(words: int) -> str:  # not not … a: Django's parser recursed once per not
    return "{% if " + "not " * (words - 1) + "contact.first_name %}x{% endif %}"


def _doubled(length: int) -> str:  # a text of `length` made inside the template, doubled
    return f"{{% with s='{'x' * (length // 2)}' %}}{{{{ s|add:s|length }}}}{{% endwith %}}"


def _joined(length: int) -> str:  # "xx…x" joined with "-": twice its length, less one
    return f"{{% with s='{'x' * ((length + 1) // 2)}' %}}{{{{ s|join:'-'|length }}}}{{% endwith %}}"


def _lowered(times: int) -> str:
    return "{{ contact.first_name" + "|lower" * times + " }}"


# (at the cap: saved, over it by one: refused saying why)
TOO_BIG = "|{} would make {:,} characters here; a filter may make at most 4,096."
DATE_FORMAT = "A date format may be at most 32 characters long; this one is 33."
CAPS = [
    ("with", _with(3), _with(4), WITH_NESTING),
    ("if and with", _ifs(8), _ifs(9), "{% if %} and {% with %} may be nested at most 8 deep."),
    ("words", _condition(40), _condition(41),
     "An {% if %} condition may have at most 40 words; this one has 41."),
    ("now", "{% now '" + "Y" * 32 + "' %}", "{% now '" + "Y" * 33 + "' %}", DATE_FORMAT),
    ("date", "{{ enrollment.enrolled_at|date:'" + "Y" * 32 + "' }}",
     "{{ enrollment.enrolled_at|date:'" + "Y" * 33 + "' }}", DATE_FORMAT),
    ("add", _doubled(4096), _doubled(4098), TOO_BIG.format("add", 4098)),
    ("join", _joined(4095), _joined(4097), TOO_BIG.format("join", 4097)),
    # a name 64, a value written 512, each |lower of "Alex" 1,024 + 4 + 4: 62 calls, 64,560 of 65,536
    ("work", _lowered(62), _lowered(63),
     "The text is too much work to render: use fewer filters and {{ … }} values, "
     "on shorter values, with shorter date formats."),
]  # fmt: skip


@pytest.mark.parametrize(("at_cap", "past_cap", "says"), [c[1:] for c in CAPS], ids=[c[0] for c in CAPS])
def test_a_text_at_each_cap_is_saved_and_one_past_it_is_refused(marketer_client, at_cap, past_cap, says):
    response = _post_plan(marketer_client, at_cap)
    assert response.status_code == 302, response.context["form"].errors
    response = _post_plan(marketer_client, past_cap)
    assert response.status_code == 200
    assert response.context["form"].errors["text"] == [says]
    assert [r.document["steps"][0]["text"] for r in Plan.objects.get(slug="texts").revisions.all()] == ["Hi"]


def test_join_on_a_long_text_is_refused_before_it_is_built(marketer_client):
    body = f"{{% with s='{'x' * 2000}' %}}{{{{ s|join:s|length }}}}{{% endwith %}}"
    marketer_client.post(reverse("sms_preview"), {"body": "Hi"})  # the request's own first-time costs
    tracemalloc.start()
    try:
        data = marketer_client.post(reverse("sms_preview"), {"body": body}).json()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data == {
        "ok": False,
        "error": "|join would make 4,000,000 characters here; a filter may make at most 4,096.",
    }
    assert peak < 1_000_000  # the 4 MB text was never made


def test_a_filter_past_the_cap_fails_that_message_even_inside_a_comparison(text_in, sms_outbox):
    # Django reads an error inside {% if a == b %} as False: the text must not go as "no".
    ContactFactory(phone=PHONE, attributes={"code": "x" * 1000})
    _plan_sending("{% if contact.attributes.code|join:'-----' == 'x' %}yes{% else %}no{% endif %}")
    text_in(PHONE, "hello")
    assert sms_outbox == []
    failed = OutboundMessage.objects.get(contact__phone=PHONE)
    assert failed.status == DeliveryStatus.FAILED
    assert failed.error_message == TOO_BIG.format("join", 5995)


def test_a_text_that_writes_past_the_cap_stops_there(text_in, sms_outbox):
    ContactFactory(phone=PHONE, attributes={"essay": "word " * 400})
    _plan_sending("{{ contact.attributes.essay }}" * 3)  # 6,000 characters
    text_in(PHONE, "hello")
    failed = OutboundMessage.objects.get(contact__phone=PHONE)
    assert failed.error_message == (
        "The text renders more than 4,096 characters; a text message holds at most 1,600."
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (_condition(1200), "An {% if %} condition may have at most 40 words; this one has 1,200."),
        ("{% if 1 %}" * 230 + "{% endif %}" * 230, "{% if %} and {% with %} may be nested at most 8 deep."),
        (
            "{% now '" + "M" * 4900 + "' %}",
            "A date format may be at most 32 characters long; this one is 4,900.",
        ),
    ],
)
def test_the_text_preview_refuses_what_made_django_recurse_or_spin(marketer_client, body, says):
    data = marketer_client.post(reverse("sms_preview"), {"body": body}).json()
    assert data == {"ok": False, "error": says}
