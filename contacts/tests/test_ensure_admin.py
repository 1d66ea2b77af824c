"""`ensure_admin`: a superuser with a random password printed once; nothing secret after."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def _run() -> str:
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


def test_creates_admin_with_a_random_password_printed_once(client):
    output = _run()
    password = output.split("password: ", 1)[1].split()[0]
    assert len(password) >= 20
    response = client.post("/admin/login/", {"username": "admin", "password": password, "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.is_staff
    again = _run()
    assert password not in again
    assert "nothing to do" in again
    assert get_user_model().objects.count() == 1


def test_passwords_differ_between_installs(django_user_model):
    first = _run().split("password: ", 1)[1].split()[0]
    django_user_model.objects.all().delete()
    second = _run().split("password: ", 1)[1].split()[0]
    assert first != second


def test_existing_superuser_is_left_alone(django_user_model):
    django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    assert "nothing to do" in _run()
    assert list(django_user_model.objects.values_list("username", flat=True)) == ["boss"]


def test_a_plain_user_named_admin_is_not_promoted(django_user_model):
    django_user_model.objects.create_user("admin", password="pw")
    output = _run()
    assert "admin-" in output
    assert not django_user_model.objects.get(username="admin").is_superuser
    assert django_user_model.objects.filter(is_superuser=True).count() == 1
