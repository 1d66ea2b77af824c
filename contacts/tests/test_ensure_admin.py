"""`ensure_admin`: a superuser with a random password printed once; nothing secret after."""

import pytest
from django.contrib.auth import get_user_model

from conftest import command

pytestmark = pytest.mark.django_db


def test_creates_admin_with_a_random_password_printed_once(client):
    output = command("ensure_admin")[0]
    password = output.split("password: ", 1)[1].split()[0]
    assert len(password) >= 20
    response = client.post("/admin/login/", {"username": "admin", "password": password, "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.is_staff
    again = command("ensure_admin")[0]
    assert password not in again
    assert "nothing to do" in again
    assert get_user_model().objects.count() == 1


def test_passwords_differ_between_installs(django_user_model):
    first = command("ensure_admin")[0].split("password: ", 1)[1].split()[0]
    django_user_model.objects.all().delete()
    second = command("ensure_admin")[0].split("password: ", 1)[1].split()[0]
    assert first != second


def test_existing_superuser_is_left_alone(django_user_model):
    django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    assert "nothing to do" in command("ensure_admin")[0]
    assert list(django_user_model.objects.values_list("username", flat=True)) == ["boss"]


def test_a_plain_user_named_admin_is_not_promoted(django_user_model):
    django_user_model.objects.create_user("admin", password="pw")
    output = command("ensure_admin")[0]
    assert "admin-" in output
    assert not django_user_model.objects.get(username="admin").is_superuser
    assert django_user_model.objects.filter(is_superuser=True).count() == 1
