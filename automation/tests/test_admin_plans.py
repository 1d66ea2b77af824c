"""The plan page as a marketer uses it: settings and goals, the steps each edited with its
kind's form (added after an exit, renamed, moved, deleted), problems said on their
fields, "Save and publish", the JSON editor and import, revisions (view, compare, roll
back), export, and the Activate / Pause / Archive buttons of the plan's FSM."""

import json
import re

import pytest
from django.urls import reverse

from automation.engine.plans import document_dump, plan_import
from automation.models import Enrollment, Plan
from automation.tests.admin_forms import change_url, newest, page_data, post_change, post_step, step_url
from automation.tests.factories import EVERYTHING, plan_document, plan_make

pytestmark = pytest.mark.django_db


def _status(plan: Plan) -> str:
    return Plan.objects.values_list("status", flat=True).get(pk=plan.pk)


def test_the_page_shows_settings_steps_diagram_and_revisions(admin_client, demo_plan):
    response = admin_client.get(change_url(demo_plan))
    page = response.content.decode()
    form = response.context["adminform"].form
    assert (form["trigger"].value(), form["lifetime"].value(), form["start"].value()) == (
        "any",
        "P7D",
        "invited",
    )
    assert 'data-step-id="invited"' in page and step_url(demo_plan, "quoted") in page  # the steps list
    assert "Ask and wait for a reply" in page and "no reply for 24 hours" in page
    assert 'class="plan-diagram"' in page and 'data-step-id="quoted"' in page
    assert "published (new enrollments)" in page
    assert reverse("admin:automation_plan_revision", args=[demo_plan.pk, 1]) in page
    assert "&quot;" not in page.split('id="plan-steps"')[1].split("</fieldset>")[0]  # no JSON in sight


def test_adding_a_plan_gives_a_starter_draft_with_its_settings(marketer_client):
    add = reverse("admin:automation_plan_add")
    data = page_data(marketer_client.get(add)) | {
        "name": "Spring", "slug": "spring", "trigger": "keyword", "keywords": "SPRING, BLOOM",
    }  # fmt: skip
    response = marketer_client.post(add, data)
    assert response.status_code == 302
    plan = Plan.objects.get(slug="spring")
    revision = newest(plan)
    assert (revision.number, revision.published_at, plan.status) == (1, None, "draft")
    assert revision.document["entry"] == {
        "trigger": "keyword",
        "keywords": ["SPRING", "BLOOM"],
        "sender": None,
    }
    assert revision.document["lifetime"] == "P7D"
    assert revision.document["steps"][0]["type"] == "send"


def test_settings_problems_are_said_on_their_fields(admin_client, demo_plan):
    response = post_change(admin_client, demo_plan, trigger="keyword", keywords="STOP")
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "'STOP' is a compliance word (STOP always means opt-out or help)" in errors["keywords"][0]
    response = post_change(admin_client, demo_plan, **{"goals-1-slug": "Not a slug!"})
    assert response.status_code == 200
    assert demo_plan.revisions.count() == 1


def test_deleting_a_goal_a_step_records_is_refused_naming_the_step(admin_client, demo_plan):
    response = post_change(admin_client, demo_plan, **{"goals-1-DELETE": "on"})
    errors = " ".join(response.context["adminform"].form.non_field_errors())
    assert "“Purchased”, goal: 'purchase' is not one of the plan's goals" in errors
    assert demo_plan.revisions.count() == 1


def test_saving_keeps_a_draft_and_publishing_makes_the_next_revision(admin_client, demo_plan, text_in):
    text_in("+12125550111", "hi")  # an enrollment under way in revision 1
    response = post_step(admin_client, demo_plan, "invited", text="Hello! Reply QUOTE for a discount.")
    assert response.status_code == 302
    draft = newest(demo_plan)
    assert (draft.number, draft.published_at) == (2, None)
    assert draft.document["steps"][0]["text"] == "Hello! Reply QUOTE for a discount."
    assert draft.document["steps"][0]["timeout"] == {"after": "PT24H", "next": "reminded"}  # as written
    assert Plan.objects.get(pk=demo_plan.pk).published.number == 1

    response = post_change(admin_client, demo_plan, _publish="1", follow=True)
    assert "Revision 2 of “Quote and buy” is published" in response.content.decode()
    assert Plan.objects.get(pk=demo_plan.pk).published.number == 2
    assert Enrollment.objects.get().revision.number == 1  # stays on the revision it started in


def test_the_plan_of_every_variant_survives_its_forms_unchanged(admin_client):
    plan = plan_import(document=EVERYTHING).plan
    for step in EVERYTHING["steps"]:
        response = post_step(admin_client, plan, step["id"])
        assert response.status_code == 302, (step["id"], response.context["form"].errors)
    assert newest(plan).number == 1  # nothing changed: no draft was made
    assert newest(plan).document == plan_import(document=EVERYTHING).plan.published.document


def test_a_step_form_says_what_is_wrong_on_the_field(admin_client, demo_plan):
    response = post_step(admin_client, demo_plan, "quoted", **{"rules-0-words": "", "text": "{% now %}"})
    form = response.context["form"]
    assert response.status_code == 200
    assert "list at least one word" in str(form.rows["rules"].forms[0].errors)
    assert form.errors["text"]
    response = post_step(
        admin_client, demo_plan, "quoted", **{"rules-0-next": "invited", "timeout_after_0": "0"}
    )
    assert "Ensure this value is greater than or equal to 1." in str(response.context["form"].errors)
    assert demo_plan.revisions.count() == 1


def test_a_rule_to_nowhere_makes_a_step_unreachable_and_is_refused_in_words(admin_client, demo_plan):
    response = post_step(admin_client, demo_plan, "quoted", **{"rules-0-next": ""})
    problems = " ".join(response.context["form"].non_field_errors())
    assert "“Purchased” cannot be reached from the start step 'invited'" in problems
    assert demo_plan.revisions.count() == 1


def test_adding_a_step_after_an_exit_puts_it_in_between(admin_client, demo_plan):
    add = reverse("admin:automation_plan_step_add", args=[demo_plan.pk])
    query = "?after=quoted&exit=rules[0].next"
    kinds = admin_client.get(add + query).content.decode()
    assert "Split at random (A/B)" in kinds and "Call a web service" in kinds
    response = post_step(
        admin_client, demo_plan, "", url=add + query + "&type=send", id="thanks-first", text="Great choice!"
    )
    assert response.status_code == 302
    steps = {s["id"]: s for s in newest(demo_plan).document["steps"]}
    assert steps["quoted"]["rules"][0]["next"] == "thanks-first"
    assert steps["thanks-first"] == {
        "id": "thanks-first", "type": "send", "text": "Great choice!", "next": "purchased",
    }  # fmt: skip
    assert admin_client.get(add + "?after=quoted&exit=nowhere").status_code == 404


def test_a_step_can_be_renamed_and_deleted(admin_client, demo_plan):
    post_step(admin_client, demo_plan, "reminded", id="nudged")
    document = newest(demo_plan).document
    assert document["steps"][0]["timeout"]["next"] == "nudged"  # exits follow the new id

    delete = reverse("admin:automation_plan_step_delete", args=[demo_plan.pk, "quoted"])
    assert "“Invited”: QUOTE" in admin_client.get(delete).content.decode()
    response = admin_client.post(delete, follow=True)
    assert "“Quoted” is not deleted" in response.content.decode()
    assert "“Purchased” cannot be reached" in response.content.decode()
    response = admin_client.post(
        reverse("admin:automation_plan_step_delete", args=[demo_plan.pk, "nudged"]), follow=True
    )
    assert "“Reminded” is deleted from the draft" in response.content.decode()
    document = newest(demo_plan).document
    assert "timeout" in document["steps"][0] and document["steps"][0]["timeout"]["next"] is None


def test_json_editor_and_import(admin_client, demo_plan, tmp_path):
    json_url = reverse("admin:automation_plan_json", args=[demo_plan.pk])
    response = admin_client.post(json_url, {"document": "{oops"})
    assert "not JSON" in response.content.decode()
    document = json.loads(json.dumps(newest(demo_plan).document))
    document["steps"][2]["rules"][0]["words"] = ["4,5 stars"]
    response = admin_client.post(json_url, {"document": document_dump(document)})
    assert "“Quoted”, reply 1, word 1: &#x27;4,5 stars&#x27; must be one word" in response.content.decode()
    assert demo_plan.revisions.count() == 1

    import_url = reverse("admin:automation_plan_import", args=[demo_plan.pk])
    other = plan_document(slug="someone-else")
    upload = tmp_path / "plan.json"
    upload.write_text(document_dump(other))
    with upload.open("rb") as f:
        response = admin_client.post(import_url, {"file": f})
    assert "not “quote-and-buy”" in response.content.decode()
    document["steps"][2]["rules"][0]["words"] = ["BUY", "YES"]
    upload.write_text(document_dump(document))
    with upload.open("rb") as f:
        response = admin_client.post(import_url, {"file": f, "publish": "on"}, follow=True)
    assert "Revision 2 of “Quote and buy” is published" in response.content.decode()
    assert Plan.objects.get(pk=demo_plan.pk).published.document["steps"][2]["rules"][0]["words"] == [
        "BUY",
        "YES",
    ]


def test_the_revision_page_shows_what_changed_and_rolls_back(admin_client, demo_plan):
    post_step(admin_client, demo_plan, "purchased", text="Thank you!")
    post_change(admin_client, demo_plan, _publish="1")
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


def test_the_plan_page_pauses_activates_and_archives_then_offers_no_transition(admin_client, demo_plan):
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


def test_a_viewer_cannot_save_or_roll_back(client, django_user_model, demo_plan):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_plan", "view_planrevision"]))
    client.force_login(user)
    assert client.get(change_url(demo_plan)).status_code == 200
    assert client.post(change_url(demo_plan), {}).status_code == 403
    assert client.get(step_url(demo_plan, "invited")).status_code == 403
    assert client.post(reverse("admin:automation_plan_json", args=[demo_plan.pk]), {}).status_code == 403
    assert client.post(reverse("admin:automation_plan_rollback", args=[demo_plan.pk, 1])).status_code == 403
    assert demo_plan.revisions.count() == 1


def test_warnings_look_like_warnings_and_name_the_step(admin_client, capsys):
    from django.core.management import call_command

    from automation.tests.factories import ask, send

    plan_make(slug="older", name="Older", entry={"trigger": "keyword", "keywords": ["SURVEY"]})
    steps = [
        ask("rate", "Rate us 1-5", [("4,5", "thanks"), ({"match": "regex", "pattern": "[1-3]"}, "sorry")],
            name="Asked", timeout={"after": "PT2M", "next": None}),
        send("thanks", "Thanks!"),
        send("sorry", "Sorry."),
    ]  # fmt: skip
    document = plan_document(
        slug="survey", name="Survey", steps=steps, entry={"trigger": "keyword", "keywords": ["survey"]}
    )
    import pathlib
    import tempfile

    path = pathlib.Path(tempfile.mkdtemp()) / "survey.json"
    path.write_text(document_dump(document))
    call_command("plan_import", str(path))
    out, err = capsys.readouterr()
    assert (out.strip(), err) == ("Imported survey revision 1", "")  # docs/reference.md §4: just that
    call_command("plan_import", str(path), "--draft", "--warnings")
    out, err = capsys.readouterr()
    assert out.strip() == "unchanged"
    call_command("plan_export", "survey")
    capsys.readouterr()
    document["description"] = "v2"
    path.write_text(document_dump(document))
    call_command("plan_import", str(path), "--warnings")
    out, err = capsys.readouterr()
    assert out.strip() == "Imported survey revision 2"  # imported all the same
    assert (
        "warning: “Asked”, reply 1, word 1: has a rule that can hardly ever match: '4,5' is one word" in err
    )

    page = admin_client.get(change_url(Plan.objects.get(slug="survey"))).content.decode()
    box = page.split('id="plan-warnings"')[1].split("</div>")[0]
    assert "to accept 4 or 5, list them as separate words" in box
    assert "the pattern [1-3] also fits longer replies that contain it" in box and "^([1-3])$" in box
    assert "“Asked”, timeout, after: waits only 2 minutes: is that the unit you meant" in box
    assert "The keyword SURVEY also enters the active plan “Older”" in box


def test_a_live_plan_says_what_happens_to_the_people_in_it(admin_client, demo_plan, text_in):
    text_in("+12125550111", "hi")
    text_in("+12125550112", "hi")
    page = admin_client.get(change_url(demo_plan)).content.decode()
    note = page.split('id="plan-live-note"')[1].split("</div>")[0]
    assert "2 people are in this plan now." in note and "Pausing: no one new enters" in note
    response = post_change(admin_client, demo_plan, _fsm_transition_to="pause", follow=True)
    assert "No one new enters; the 2 people in it go on where they are." in response.content.decode()


def test_a_new_plan_is_imported_from_the_plans_list(marketer_client, tmp_path):
    listing = marketer_client.get(reverse("admin:automation_plan_changelist")).content.decode()
    url = reverse("admin:automation_plan_import_new")
    assert url in listing
    upload = tmp_path / "survey.json"
    upload.write_text(document_dump(plan_document(slug="fresh", name="Fresh")))
    with upload.open("rb") as f:
        response = marketer_client.post(url, {"file": f})
    plan = Plan.objects.get(slug="fresh")
    assert response.status_code == 302 and response["Location"].startswith(change_url(plan))
    assert (newest(plan).number, newest(plan).published_at) == (1, None)  # a draft unless asked
    upload.write_text("{")
    with upload.open("rb") as f:
        assert "not JSON" in marketer_client.post(url, {"file": f}).content.decode()


def test_a_step_page_shows_its_help_as_text(admin_client, demo_plan):
    # "{{ contact.attributes.<name> }}" in a help text is text, never HTML the browser eats.
    page = admin_client.get(step_url(demo_plan, "purchased")).content.decode()
    assert "{{ contact.attributes.&lt;name&gt; }}" in page
    assert "attributes.<name>" not in page


def test_a_body_past_the_request_limit_is_refused_before_it_is_read(admin_client, settings, tmp_path):
    # Every door at once (here the plan import, whose own check is 1 MB): the Content-Length
    # alone answers, before the CSRF check or the form would spool the upload.
    settings.MAX_REQUEST_BYTES = 100 * 1024
    upload = tmp_path / "big.json"
    upload.write_text(document_dump(plan_document(slug="padded", name="Padded")) + " " * 200 * 1024)
    with upload.open("rb") as f:
        response = admin_client.post(reverse("admin:automation_plan_import_new"), {"file": f})
    assert response.status_code == 413
    assert "larger than 100 KB" in response.content.decode()
    assert not Plan.objects.filter(slug="padded").exists()
    # Under the limit, the same door works.
    upload.write_text(document_dump(plan_document(slug="padded", name="Padded")))
    with upload.open("rb") as f:
        assert admin_client.post(reverse("admin:automation_plan_import_new"), {"file": f}).status_code == 302
