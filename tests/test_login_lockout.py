"""Admin login resists brute force (django-axes): after 5 failed logins for one username from
one address that pair is locked out — even the right password is refused — while the same
user elsewhere and other users here still log in; a superuser sees the lockout and lifts it."""

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"


def attempt(client: Client, username: str, password: str, ip: str):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=ip)


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("mia", password="right-password-1", is_staff=True)


def test_five_failures_lock_the_username_from_that_address(staff, django_user_model):
    attacker = Client()
    for _ in range(4):
        assert attempt(attacker, "mia", "guess", "203.0.113.9").status_code == 200  # the form again
    locked = attempt(attacker, "mia", "guess", "203.0.113.9")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    # Locked: the right password from there is refused too.
    assert attempt(Client(), "mia", "right-password-1", "203.0.113.9").status_code == 429
    # The same user from her own address, and another user from the attacker's, still log in.
    assert attempt(Client(), "mia", "right-password-1", "198.51.100.7").status_code == 302
    django_user_model.objects.create_user("ben", password="bens-password-1", is_staff=True)
    assert attempt(Client(), "ben", "bens-password-1", "203.0.113.9").status_code == 302


def test_a_superuser_sees_the_lockout_and_lifts_it(staff, django_user_model):
    attacker = Client()
    for _ in range(5):
        attempt(attacker, "mia", "guess", "203.0.113.9")
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    admin = Client()
    admin.force_login(root)
    page = admin.get(reverse("admin:axes_accessattempt_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "mia" in html and "203.0.113.9" in html

    from axes.models import AccessAttempt

    attempt_row = AccessAttempt.objects.get(username="mia")
    assert attempt_row.failures_since_start == 5
    delete = reverse("admin:axes_accessattempt_delete", args=[attempt_row.pk])
    assert admin.post(delete, {"post": "yes"}).status_code == 302
    assert attempt(Client(), "mia", "right-password-1", "203.0.113.9").status_code == 302


def test_a_marketer_cannot_see_the_login_records(client, django_user_model):
    from django.contrib.auth.models import Group

    marketer = django_user_model.objects.create_user("m", password="pw", is_staff=True)
    marketer.groups.add(Group.objects.get(name="Marketers"))
    client.force_login(marketer)
    assert client.get(reverse("admin:axes_accessattempt_changelist")).status_code == 403


def started_with(settings, tmp_path, *, proxies: str) -> None:
    """Apply the login lockout's address settings Django starts with under
    TRUSTED_PROXY_COUNT=`proxies` (read from a real start-up in a subprocess)."""
    import json

    from tests.servers import django_run

    show = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k, None) for k in ("
        "'AXES_IPWARE_META_PRECEDENCE_ORDER', 'AXES_IPWARE_PROXY_COUNT', 'IPWARE_STRICT')}))"
    )
    result = django_run("-c", show, tmp_path=tmp_path, TRUSTED_PROXY_COUNT=proxies)
    assert result.returncode == 0, result.stderr
    for name, value in json.loads(result.stdout).items():
        if value is not None:
            setattr(settings, name, value)


def via_proxy(client: Client, username: str, password: str, forwarded_for: str):
    """A login through one reverse proxy at 10.0.0.2 that appends the client's address."""
    return client.post(
        LOGIN,
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def test_behind_a_trusted_proxy_the_lock_is_the_attackers_alone(staff, settings, tmp_path):
    started_with(settings, tmp_path, proxies="1")
    attacker = Client()
    for _ in range(5):
        via_proxy(attacker, "mia", "guess", "203.0.113.9")
    assert via_proxy(Client(), "mia", "right-password-1", "203.0.113.9").status_code == 429
    # Every request comes from the proxy's address; mia at home still logs in through it.
    assert via_proxy(Client(), "mia", "right-password-1", "198.51.100.7").status_code == 302


def test_behind_a_trusted_proxy_a_client_cannot_choose_its_address(staff, settings, tmp_path):
    started_with(settings, tmp_path, proxies="1")
    # The attacker writes mia's address into X-Forwarded-For; the proxy appends the real one.
    for _ in range(5):
        via_proxy(Client(), "mia", "guess", "198.51.100.7, 203.0.113.9")
    assert via_proxy(Client(), "mia", "right-password-1", "198.51.100.7").status_code == 302
    assert via_proxy(Client(), "mia", "right-password-1", "203.0.113.9").status_code == 429


def test_without_a_proxy_x_forwarded_for_is_not_read(staff, settings, tmp_path):
    started_with(settings, tmp_path, proxies="0")
    # Forged headers from a direct client change nothing: the lock is on its real address.
    for n in range(5):
        attempt_ = Client().post(
            LOGIN,
            {"username": "mia", "password": "guess", "next": "/admin/"},
            REMOTE_ADDR="203.0.113.9",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )
        assert attempt_.status_code in (200, 429)
    assert attempt(Client(), "mia", "right-password-1", "203.0.113.9").status_code == 429
    assert attempt(Client(), "mia", "right-password-1", "198.51.100.7").status_code == 302
