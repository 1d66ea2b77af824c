"""The plan page: the draft as a §6 document checked on save, "Save and publish", the
revisions (view, compare, roll back), export, and the Activate / Pause / Archive buttons of
the plan's FSM — as a marketer uses them."""

import json
import re

import pytest
from django.urls import reverse

from automation.models import Enrollment, Plan, PlanRevision
from automation.services.plans import document_dump
from automation.tests.factories import plan_document, plan_make

pytestmark = pytest.mark.django_db


def change_url(plan: Plan) -> str:
    return reverse("admin:automation_plan_change", args=[plan.pk])


def newest(plan: Plan) -> PlanRevision:
    return plan.revisions.order_by("-number").first()


def post_change(client, plan: Plan, document: dict | str | None = None, **extra):
    if document is None:
        document = newest(plan).document
    text = document if isinstance(document, str) else document_dump(document)
    return client.post(change_url(plan), {"document": text, **extra}, follow=extra.pop("follow", False))


def _status(plan: Plan) -> str:
    return Plan.objects.values_list("status", flat=True).get(pk=plan.pk)


def test_the_page_shows_the_document_the_diagram_and_the_revisions(admin_client, demo_plan):
    page = admin_client.get(change_url(demo_plan)).content.decode()
    assert "&quot;id&quot;: &quot;invited&quot;" in page  # the document, in its text area
    assert 'class="plan-diagram"' in page and 'data-step-id="quoted"' in page
    assert "published (new enrollments)" in page
    assert reverse("admin:automation_plan_revision", args=[demo_plan.pk, 1]) in page


def test_adding_a_plan_with_no_document_gives_a_starter_draft(marketer_client):
    response = marketer_client.post(
        reverse("admin:automation_plan_add"), {"name": "Spring", "slug": "spring"}
    )
    assert response.status_code == 302
    plan = Plan.objects.get(slug="spring")
    revision = newest(plan)
    assert (revision.number, revision.published_at, plan.status) == (1, None, "draft")
    assert revision.document["steps"][0]["type"] == "send"


def test_a_document_with_problems_is_refused_naming_step_and_field(admin_client, demo_plan):
    document = json.loads(json.dumps(newest(demo_plan).document))
    document["steps"][2]["rules"][0]["words"] = ["4,5 stars"]
    document["steps"][0]["timeout"]["after"] = "120"
    response = post_change(admin_client, demo_plan, document)
    page = response.content.decode()
    assert response.status_code == 200
    assert "step &#x27;quoted&#x27;, rules[0].words[0]: &#x27;4,5 stars&#x27; must be one word" in page
    assert "step &#x27;invited&#x27;, timeout.after: &#x27;120&#x27; is not an ISO 8601 duration" in page
    assert demo_plan.revisions.count() == 1


def test_not_json_is_refused(admin_client, demo_plan):
    response = post_change(admin_client, demo_plan, "{oops")
    assert "not JSON" in response.content.decode()
    assert demo_plan.revisions.count() == 1


def test_saving_keeps_a_draft_and_publishing_makes_the_next_revision(admin_client, demo_plan, text_in):
    text_in("+12125550111", "hi")  # an enrollment under way in revision 1
    document = json.loads(json.dumps(newest(demo_plan).document))
    document["steps"][0]["text"] = "Hello! Reply QUOTE for a discount."
    assert post_change(admin_client, demo_plan, document).status_code == 302
    draft = newest(demo_plan)
    assert (draft.number, draft.published_at) == (2, None)
    assert Plan.objects.get(pk=demo_plan.pk).published.number == 1

    response = post_change(admin_client, demo_plan, document, _publish="1", follow=True)
    assert "Revision 2 of “Quote and buy” is published" in response.content.decode()
    assert Plan.objects.get(pk=demo_plan.pk).published.number == 2
    assert Enrollment.objects.get().revision.number == 1  # stays on the revision it started in


def test_the_revision_page_shows_what_changed_and_rolls_back(admin_client, demo_plan):
    document = json.loads(json.dumps(newest(demo_plan).document))
    document["steps"][3]["text"] = "Thank you!"
    post_change(admin_client, demo_plan, document, _publish="1")
    page = admin_client.get(
        reverse("admin:automation_plan_revision", args=[demo_plan.pk, 2])
    ).content.decode()
    assert '<span class="removed">-      &quot;text&quot;: &quot;Thanks for your purchase!' in page
    assert '<span class="added">+      &quot;text&quot;: &quot;Thank you!&quot;,</span>' in page

    response = admin_client.post(
        reverse("admin:automation_plan_rollback", args=[demo_plan.pk, 1]), follow=True
    )
    assert "Revision 1 is published again as revision 3." in response.content.decode()
    plan = Plan.objects.get(pk=demo_plan.pk)
    assert plan.published.number == 3
    assert plan.published.document == demo_plan.revisions.get(number=1).document
    assert (
        admin_client.get(reverse("admin:automation_plan_rollback", args=[demo_plan.pk, 1])).status_code == 405
    )
    assert (
        admin_client.get(reverse("admin:automation_plan_revision", args=[demo_plan.pk, 9])).status_code == 404
    )


def test_export_downloads_the_document(admin_client, demo_plan):
    response = admin_client.get(reverse("admin:automation_plan_export", args=[demo_plan.pk]))
    assert response["Content-Disposition"] == 'attachment; filename="quote-and-buy.json"'
    assert json.loads(response.content)["start"] == "invited"


def test_buttons_come_from_the_fsm(admin_client, demo_plan):
    page = admin_client.get(change_url(demo_plan)).content.decode()
    buttons = re.findall(r'name="_fsm_transition_to"\s+value="(\w+)"', page)
    assert sorted(buttons) == ["archive", "pause"]  # already active: no Activate


def test_pause_activate_archive(admin_client, demo_plan):
    response = post_change(admin_client, demo_plan, _fsm_transition_to="pause", follow=True)
    assert "Plan “Quote and buy” is paused." in response.content.decode()
    assert _status(demo_plan) == "paused"
    response = post_change(admin_client, demo_plan, _fsm_transition_to="activate", follow=True)
    assert "is now active" in response.content.decode()
    post_change(admin_client, demo_plan, _fsm_transition_to="archive", follow=True)
    assert _status(demo_plan) == "archived"
    assert "_fsm_transition_to" not in admin_client.get(change_url(demo_plan)).content.decode()


def test_activation_before_publishing_says_what_to_do(admin_client):
    plan = plan_make(publish=False, status=Plan.Status.DRAFT)
    response = post_change(admin_client, plan, _fsm_transition_to="activate", follow=True)
    assert "publish the draft" in response.content.decode()
    assert _status(plan) == "draft"


def test_a_marketer_authors_and_publishes(marketer_client):
    document = plan_document(
        slug="survey", name="Survey", entry={"trigger": "keyword", "keywords": ["SURVEY"]}
    )
    response = marketer_client.post(
        reverse("admin:automation_plan_add"),
        {"name": "Survey", "slug": "survey", "document": document_dump(document), "_publish": "1"},
    )
    assert response.status_code == 302
    plan = Plan.objects.get(slug="survey")
    assert (plan.status, plan.published.number) == ("active", 1)


def test_a_viewer_cannot_save_or_roll_back(client, django_user_model, demo_plan):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_plan", "view_planrevision"]))
    client.force_login(user)
    assert client.get(change_url(demo_plan)).status_code == 200
    assert post_change(client, demo_plan).status_code == 403
    assert client.post(reverse("admin:automation_plan_rollback", args=[demo_plan.pk, 1])).status_code == 403
    assert demo_plan.revisions.count() == 1
