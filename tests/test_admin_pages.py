"""Every admin page of every registered model, for a superuser, a Marketer and a non-staff user.

A Marketer's expected answer is derived from the permissions the "Marketers" group
(created by the migrations) gives: 200 where it may look, 403 where it may not.
"""

import importlib

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from automation.engine.plans import plan_load_demo
from automation.models import BulkEnrollmentJob, Plan
from automation.tests.factories import EnrollmentFactory
from contacts.imports import contact_import_create
from contacts.models import ConsentEvent
from contacts.tests.factories import ContactFactory
from messaging.senders import sender_save
from messaging.tests.factories import OutboundMessageFactory
from tracking.models import GoalConversion, TrackedLink
from tracking.tests.factories import GoalFactory, InteractionFactory

# Models whose history is written by the engine: no add page for anyone.
READ_ONLY = {
    "automation.enrollment",
    "contacts.consentevent",
    "contacts.contactimport",
    "messaging.outboundmessage",
    "tracking.goalconversion",
    "tracking.interaction",
}

REGISTERED = sorted(admin.site._registry, key=lambda m: m._meta.label_lower)
MODEL_IDS = [m._meta.label_lower for m in REGISTERED]


@pytest.fixture
def world(db, django_user_model):
    """One row of every registered model."""
    plan = Plan.objects.get(pk=plan_load_demo().pk)
    contact = ContactFactory(phone="+12125550123")
    enrollment = EnrollmentFactory(contact=contact, plan=plan, revision=plan.published, step_id="invited")
    inbound = InteractionFactory(contact=contact, body="QUOTE", enrollment=enrollment)
    outbound = OutboundMessageFactory(
        contact=contact, enrollment=enrollment, step_id="invited", interaction__body="Hi!"
    ).interaction
    TrackedLink.objects.create(
        code="abcdefghijkl",
        url="https://example.com/",
        interaction=outbound,
        contact=contact,
        enrollment=enrollment,
        created_at=timezone.now(),
    )
    goal = GoalFactory()
    GoalConversion.objects.create(
        contact=contact,
        goal=goal,
        enrollment=enrollment,
        interaction=inbound,
        points=10,
        occurred_at=timezone.now(),
    )
    ConsentEvent.objects.create(contact=contact, kind="opt_out", source="keyword", occurred_at=timezone.now())
    owner = django_user_model.objects.create_user("token-owner", password="x")
    Token.objects.create(user=owner)
    BulkEnrollmentJob.objects.create(plan=plan, created_by=owner, total=1)
    sender_save(address="12345", mps=100, name="Campaign short code")
    contact_import_create(content=b"phone\n+14155550100\n", file_name="c.csv", file_format="csv", user=owner)
    # django-axes' rows: a failed login and a successful one, through the login page.
    login = Client()
    login.post(reverse("admin:login"), {"username": "token-owner", "password": "wrong"})
    django_user_model.objects.create_user("staffer", password="pw", is_staff=True)
    login.post(reverse("admin:login"), {"username": "staffer", "password": "pw"})
    return {"plan": plan, "contact": contact}


@pytest.fixture
def superuser(db, django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw")


def _urls(model, obj):
    info = model._meta.app_label, model._meta.model_name
    return {
        "changelist": reverse("admin:{}_{}_changelist".format(*info)),
        "add": reverse("admin:{}_{}_add".format(*info)),
        "change": reverse("admin:{}_{}_change".format(*info), args=[obj.pk]) if obj is not None else None,
    }


def _offers_add_page(model, user) -> bool:
    """Whether the model's admin has an add page at all (history and job rows have none)."""
    request = RequestFactory().get("/")
    request.user = user
    return admin.site._registry[model].has_add_permission(request)


def test_history_admins_are_read_only(superuser):
    for model in REGISTERED:
        if model._meta.label_lower in READ_ONLY:
            assert not _offers_add_page(model, superuser), model


def _first(model):
    obj = model._default_manager.order_by("pk").first()
    if obj is None:  # a model registered later: its app's factory makes one
        factories = importlib.import_module(f"{model._meta.app_label}.tests.factories")
        factory = getattr(factories, f"{model.__name__}Factory", None)
        obj = factory() if factory is not None else None
    return obj


@pytest.mark.parametrize("model", REGISTERED, ids=MODEL_IDS)
def test_superuser_sees_every_page(client, world, superuser, model):
    client.force_login(superuser)
    obj = _first(model)
    assert obj is not None, f"no {model._meta.label} row to open: add one to the world fixture"
    urls = _urls(model, obj)
    assert client.get(urls["changelist"]).status_code == 200
    assert client.get(urls["change"]).status_code == 200
    expected_add = 200 if _offers_add_page(model, superuser) else 403
    assert client.get(urls["add"]).status_code == expected_add


@pytest.mark.parametrize("model", REGISTERED, ids=MODEL_IDS)
def test_marketer_gets_exactly_what_the_group_allows(client, world, marketer, model):
    client.force_login(marketer)
    opts = model._meta
    concrete = opts.concrete_model._meta if opts.proxy else opts
    can = {
        a: marketer.has_perm(f"{concrete.app_label}.{a}_{concrete.model_name}")
        for a in ("view", "change", "add")
    }
    urls = _urls(model, _first(model))
    see = 200 if can["view"] or can["change"] else 403
    assert client.get(urls["changelist"]).status_code == see
    assert client.get(urls["change"]).status_code == see
    add = 200 if can["add"] and _offers_add_page(model, marketer) else 403
    assert client.get(urls["add"]).status_code == add


def test_marketers_group_has_no_user_administration(db):
    perms = Permission.objects.filter(group__name="Marketers")
    assert perms.exists()
    assert not perms.filter(
        content_type__app_label__in=["auth", "authtoken", "admin", "contenttypes", "sessions"]
    )


def test_marketer_cannot_open_users_or_groups(client, world, marketer):
    client.force_login(marketer)
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    assert client.get(reverse("admin:auth_group_changelist")).status_code == 403
    assert client.get(reverse("admin:auth_user_add")).status_code == 403


def test_marketer_authoring_pages_answer(client, world, marketer):
    client.force_login(marketer)
    plan = world["plan"]
    for name in ("automation_plan", "tracking_goal"):
        assert client.get(reverse(f"admin:{name}_add")).status_code == 200
    assert client.get(reverse("admin:automation_plan_change", args=[plan.pk])).status_code == 200
    assert client.get(reverse("admin:contacts_contact_change", args=[world["contact"].pk])).status_code == 200


@pytest.mark.parametrize("model", REGISTERED, ids=MODEL_IDS)
def test_non_staff_is_sent_to_login(client, world, django_user_model, model):
    user = django_user_model.objects.create_user("someone", password="pw")
    client.force_login(user)
    for url in _urls(model, _first(model)).values():
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(reverse("admin:automation_plan_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
