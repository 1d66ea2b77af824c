"""Web service secrets (issue 18, point 10): a plan's `http` header names a secret kept on
the server (`{"Authorization": {"secret": "shop-api-key"}}`); the call sends its value,
the plan — its exports, revisions and forms — holds only the name, and only an admin
given the model's permissions sees the secrets, never a value back. The web service is a
real server on 127.0.0.1."""

import json

import pytest
from django.urls import reverse

from automation.models import EnrollmentStep, HttpSecret, Plan
from automation.tests.admin_forms import newest, page_data
from automation.tests.factories import plan_file
from automation.tests.web_service import web_service
from conftest import bodies, command, command_refused

pytestmark = pytest.mark.django_db

PHONE = "+12125550160"
KEY = "Bearer 9f3c1e7a5b"
SORRY = "We could not look that up."


def points_plan(url: str) -> dict:
    """A plan that calls `url` with a secret header (shop-api-key), then says Done. or SORRY."""
    return {
        "slug": "points",
        "entry": {"trigger": "any"},
        "start": "call",
        "steps": [
            {"id": "call", "name": "Looked up", "type": "http", "method": "POST", "url": url,
             "headers": {"Authorization": {"secret": "shop-api-key"}, "X-Echo": "{{ contact.phone }}"},
             # A template never sees a secret, whatever it calls it.
             "body": {"peek": "{{ secret }}{{ secrets.shop_api_key }}{{ shop_api_key }}{{ contact.secret }}"},
             "next": "ok", "on_failure": "sorry"},
            {"id": "ok", "type": "send", "text": "Done.", "next": None},
            {"id": "sorry", "type": "send", "text": SORRY, "next": None},
        ],
    }  # fmt: skip


def plan_import_file(tmp_path, document) -> tuple[str, str]:
    return command("plan_import", plan_file(tmp_path, document), "--warnings")


def test_the_call_sends_the_secret_and_the_plan_holds_only_its_name(tmp_path, text_in, sms_outbox, settings):
    settings.HTTP_STEP_ALLOW_PRIVATE = True
    HttpSecret.objects.create(name="shop-api-key", value=KEY)
    with web_service() as service:
        out, err = plan_import_file(tmp_path, points_plan(f"{service.base_url}/points"))
        assert out.strip() == "Imported points revision 1"
        assert "shop-api-key" not in err  # the secret is kept: no warning
        text_in(PHONE, "points?")
    heard = service.heard[0]
    assert heard.headers["Authorization"] == KEY
    assert heard.headers["X-Echo"] == "{{ contact.phone }}"  # headers are sent as written
    assert heard.json() == {"peek": ""}
    assert bodies(sms_outbox) == ["Done."]

    exported, _ = command("plan_export", "points")
    assert json.loads(exported)["steps"][0]["headers"]["Authorization"] == {"secret": "shop-api-key"}
    assert "9f3c1e7a" not in exported
    assert "9f3c1e7a" not in json.dumps(Plan.objects.get(slug="points").published.document)


def test_a_secret_this_server_lacks_is_a_warning_then_a_failure_naming_it(
    tmp_path, text_in, sms_outbox, settings
):
    """A plan exported elsewhere names a secret this server may not keep yet: it imports
    (with a warning), and its call fails, clearly, until an admin adds the secret."""
    settings.HTTP_STEP_ALLOW_PRIVATE = True
    with web_service() as service:
        out, err = plan_import_file(tmp_path, points_plan(f"{service.base_url}/points"))
        assert out.strip() == "Imported points revision 1"
        assert (
            "“Looked up” sends the web service secret “shop-api-key” (header Authorization), which is not set"
            in err
        )
        text_in(PHONE, "points?")
    assert service.heard == []
    assert bodies(sms_outbox) == [SORRY]
    detail = EnrollmentStep.objects.get(step_id="call").detail
    assert "the secret “shop-api-key” (header Authorization) is not set" in detail


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            {"Authorization": {"secret": "Shop Key"}},
            "headers.Authorization.secret: 'Shop Key' is not a secret's name",
        ),
        (
            {"Authorization": {"secret": "k", "value": "x"}},
            "headers.Authorization.value: unknown key 'value'",
        ),
        ({"Authorization": {}}, "headers.Authorization.secret: is required"),
        ({"Bad Name": "x"}, "headers.Bad Name: 'Bad Name' is not a header name"),
        ({"X-Key": "a\r\nX-Evil: 1"}, "headers.X-Key: must be one line"),
    ],
)
def test_a_header_that_is_neither_text_nor_a_secret_is_refused(tmp_path, headers, expected):
    document = points_plan("https://shop.example.com/points")
    document["steps"][0]["headers"] = headers
    assert expected in command_refused("plan_import", plan_file(tmp_path, document))


def test_the_step_form_names_secrets_on_a_line_of_their_own(admin_client, tmp_path):
    plan_import_file(tmp_path, points_plan("https://shop.example.com/points"))
    plan = Plan.objects.get(slug="points")
    url = reverse("admin:automation_plan_step", args=[plan.pk, "call"])
    page = admin_client.get(url)
    assert "Headers from secrets" in page.content.decode()
    form = page.context["form"]
    assert form["headers"].value() == "X-Echo: {{ contact.phone }}"
    assert form["secret_headers"].value() == "Authorization: shop-api-key"

    data = page_data(admin_client.get(url))
    both = admin_client.post(url, data | {"headers": "Authorization: plain"})
    assert "Authorization is among the headers above too" in str(both.context["form"].errors)
    response = admin_client.post(
        url, data | {"secret_headers": "Authorization: shop-api-key\nX-Other: crm-token"}
    )
    assert response.status_code == 302
    headers = newest(plan).document["steps"][0]["headers"]
    assert headers == {
        "X-Echo": "{{ contact.phone }}",
        "Authorization": {"secret": "shop-api-key"},
        "X-Other": {"secret": "crm-token"},
    }


def test_a_marketer_cannot_open_secrets_and_an_admin_never_sees_a_value_back(
    marketer_client, admin_client, django_user_model
):
    secret = HttpSecret.objects.create(name="shop-api-key", value=KEY, note="Shop points API")
    urls = [
        reverse("admin:automation_httpsecret_changelist"),
        reverse("admin:automation_httpsecret_change", args=[secret.pk]),
        reverse("admin:automation_httpsecret_add"),
        reverse("admin:automation_httpsecret_history", args=[secret.pk]),
    ]
    assert [marketer_client.get(u).status_code for u in urls] == [403, 403, 403, 403]

    pages = [admin_client.get(u) for u in urls]
    assert [p.status_code for p in pages] == [200, 200, 200, 200]
    assert "shop-api-key" in pages[0].content.decode()
    assert ["9f3c1e7a" in p.content.decode() for p in pages] == [False] * 4

    change = urls[1]
    kept = admin_client.post(change, {"name": "shop-api-key", "value": "", "note": "Renewed note"})
    assert kept.status_code == 302
    assert HttpSecret.objects.get().value == KEY  # empty: the value stays
    admin_client.post(change, {"name": "shop-api-key", "value": "Bearer 9f3c1e7a-new", "note": ""})
    assert HttpSecret.objects.get().value == "Bearer 9f3c1e7a-new"
    assert "9f3c1e7a" not in admin_client.get(urls[3]).content.decode()  # the history names fields only
    refused = admin_client.post(urls[2], {"name": "other-key", "value": "", "note": ""})
    assert "Enter the value plans will send." in refused.content.decode()

    # Someone allowed to look but not to change still never sees a value.
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_httpsecret"))
    admin_client.force_login(viewer)
    page = admin_client.get(change)
    assert page.status_code == 200 and "shop-api-key" in page.content.decode()
    assert "9f3c1e7a" not in page.content.decode()
