"""A newcomer's first minute (issue 9): `make run` ends its set-up with one block saying where
to log in and with what; "/" leads to the admin, which carries the product's name and no
"View site" link to a page that does not exist."""

from io import StringIO

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_the_set_up_ends_with_one_block_of_url_user_and_password(client):
    out = StringIO()
    call_command("ensure_admin", url="http://127.0.0.1:8000/admin/", stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert lines[0] == lines[-1] == "=" * 72
    assert lines[1].strip() == "smsjourney: log in at http://127.0.0.1:8000/admin/"
    assert lines[2].split() == ["user:", "admin"]
    password = lines[3].split()[1]
    response = client.post("/admin/login/", {"username": "admin", "password": password, "next": "/admin/"})
    assert response.status_code == 302

    again = StringIO()
    call_command("ensure_admin", url="http://127.0.0.1:8000/admin/", stdout=again)
    assert password not in again.getvalue()
    assert "changepassword admin" in again.getvalue()


def test_the_site_root_leads_to_the_admin(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_the_admin_carries_the_product_s_name_and_no_view_site_link(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert "<title>Journeys, contacts and messages | smsjourney</title>" in page
    assert "Django administration" not in page
    assert "View site" not in page
