"""The text preview of the plan page: a text rendered for a sample contact, with its
encoding and segments, for those who may edit plans."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

PREVIEW = "sms_preview"


def test_preview_renders_for_the_sample_contact(admin_client):
    response = admin_client.post(reverse(PREVIEW), {"body": "Hi {{ contact.first_name }}! Reply QUOTE."})
    assert response.status_code == 200
    data = response.json()
    assert data["ok"] is True
    assert data["body"] == "Hi Alex! Reply QUOTE."
    assert (data["encoding"], data["encoding_label"], data["units"], data["segments"]) == (
        "gsm7",
        "GSM-7",
        21,
        1,
    )


def test_preview_counts_the_rendered_text_not_the_template(admin_client):
    body = "{{ contact.first_name }} " + "x" * 150  # the template is short of 160; the text is 155
    data = admin_client.post(reverse(PREVIEW), {"body": body}).json()
    assert data["units"] == 155
    data = admin_client.post(reverse(PREVIEW), {"body": body + "xxxxxx"}).json()
    assert (data["units"], data["segments"], data["per_segment"]) == (161, 2, 153)


def test_preview_shows_ucs2_and_the_characters_that_caused_it(admin_client):
    data = admin_client.post(reverse(PREVIEW), {"body": "Thanks \U0001f600"}).json()
    assert (data["encoding"], data["segments"], data["non_gsm_chars"]) == ("ucs2", 1, ["\U0001f600"])


def test_preview_of_a_broken_template_says_why(admin_client):
    data = admin_client.post(reverse(PREVIEW), {"body": "Hi {% if %}"}).json()
    assert data["ok"] is False
    assert "does not render" in data["error"]


def test_preview_refuses_get_and_huge_bodies(admin_client):
    assert admin_client.get(reverse(PREVIEW)).status_code == 405
    data = admin_client.post(reverse(PREVIEW), {"body": "x" * 6000}).json()
    assert data["ok"] is False


def test_preview_needs_authoring_rights(client, django_user_model, marketer_client):
    assert marketer_client.post(reverse(PREVIEW), {"body": "Hi"}).status_code == 200
    viewer = django_user_model.objects.create_user("v", password="pw", is_staff=True)
    client.force_login(viewer)
    assert client.post(reverse(PREVIEW), {"body": "Hi"}).status_code == 403


def test_the_plan_page_has_the_text_preview(admin_client):
    from automation.tests.factories import plan_make

    plan = plan_make()
    page = admin_client.get(reverse("admin:automation_plan_change", args=[plan.pk])).content.decode()
    assert 'id="sms-preview"' in page
    assert reverse(PREVIEW) in page


def test_the_preview_shows_links_as_a_plan_that_tracks_them_sends_them(admin_client):
    import re

    text = "Sale! https://shop.example.com/spring-collection-2030?utm_source=sms&utm_campaign=spring"
    plain = admin_client.post(reverse(PREVIEW), {"body": text}).json()
    tracked = admin_client.post(reverse(PREVIEW), {"body": text, "track_links": "1"}).json()
    assert (plain["body"], plain["links"]) == (text, 0)
    assert re.fullmatch(r"Sale! https://sms\.example\.com/l/[\w-]{12}", tracked["body"])
    assert tracked["links"] == 1
    assert tracked["units"] == len(tracked["body"]) < plain["units"]  # the segments count what is sent


def test_the_plan_page_tells_the_preview_whether_links_are_tracked(admin_client):
    from automation.tests.factories import plan_make

    tracked, untracked = plan_make(), plan_make(track_links=False)
    page = admin_client.get(reverse("admin:automation_plan_change", args=[tracked.pk])).content.decode()
    assert 'data-track-links="1"' in page
    page = admin_client.get(reverse("admin:automation_plan_change", args=[untracked.pk])).content.decode()
    assert 'data-track-links="0"' in page


def test_without_a_public_address_the_plan_page_preview_and_report_say_links_are_not_tracked(
    admin_client, settings
):
    from automation.tests.factories import plan_make

    plan = plan_make()
    text = "Sale! https://shop.example.com/spring"
    change = reverse("admin:automation_plan_change", args=[plan.pk])
    report = reverse("admin:automation_plan_report", args=[plan.pk])
    for url in (change, report):  # with PUBLIC_BASE_URL set, nothing to say
        assert "Links cannot be tracked" not in admin_client.get(url).content.decode()
    assert admin_client.post(reverse(PREVIEW), {"body": text, "track_links": "1"}).json()["links_note"] == ""

    settings.PUBLIC_BASE_URL = ""
    for url in (change, report):
        page = admin_client.get(url).content.decode()
        assert "Links cannot be tracked here: PUBLIC_BASE_URL is not set" in page
    preview = admin_client.post(reverse(PREVIEW), {"body": text, "track_links": "1"}).json()
    assert (preview["body"], preview["links"]) == (text, 0)
    assert preview["links_note"].startswith("Links cannot be tracked here")
    # A text without links, or a plan that does not track them: nothing to say.
    assert admin_client.post(reverse(PREVIEW), {"body": "Hi", "track_links": "1"}).json()["links_note"] == ""
    assert admin_client.post(reverse(PREVIEW), {"body": text}).json()["links_note"] == ""


def _names(values: dict, prefix: str) -> list[str]:
    """Every name a template may write for `values`: its keys, and the keys of the nested
    mappings that are the context's own (the contact's attributes and the enrollment's
    branches are the contact's and the journey's data, not names of the context)."""
    names = []
    for key, value in values.items():
        names.append(f"{prefix}.{key}")
        if isinstance(value, dict) and key not in ("attributes", "branches"):
            names += _names(value, f"{prefix}.{key}")
    return names


def test_preview_shows_every_value_a_real_text_has(admin_client):
    """The preview's context is the real one (automation.engine.enrollments'), for a
    sample contact in a sample enrollment: no name a text may use renders empty there."""
    from automation.engine.enrollments import enrollment_text_context
    from automation.tests.factories import EnrollmentFactory

    real = enrollment_text_context(enrollment=EnrollmentFactory())
    names = [name for part in ("contact", "enrollment") for name in _names(real[part], part)]
    assert {"enrollment.status", "enrollment.enrolled_at", "enrollment.expires_at"} <= set(names)
    for name in names:
        data = admin_client.post(reverse(PREVIEW), {"body": f"[{{{{ {name} }}}}]"}).json()
        assert data["ok"] is True, (name, data)
        assert data["body"] != "[]", f"{name} renders nothing in the preview"
