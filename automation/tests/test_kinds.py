"""Every registered step kind (``automation.flow.kinds.KINDS``) through every door, from its
`example` step: plan_import and plan_export, its admin form, its label in the plan page and
the diagram, a run in the engine from a real inbound message, a turn of Try it, and its row
in the report. A kind added without any of these fails here (docs/architecture.md §4; goflow's test over
its registered types is the model)."""

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import responses
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils.html import escape

from automation.flow import KINDS, Step
from automation.flow.document import step_data
from automation.flow.edit import exit_set
from automation.models import Enrollment, EnrollmentStatus, EnrollmentStep
from automation.tests.admin_forms import change_url, newest, post_step, step_url
from automation.tests.factories import EVERYTHING, plan_document, plan_make, send

pytestmark = pytest.mark.django_db

PHONE = "+12125550177"
T0 = datetime(2030, 3, 4, 15, 0, tzinfo=UTC)  # 10:00 in New York
kinds = pytest.mark.parametrize("kind", list(KINDS.values()), ids=list(KINDS))


def plan_of(kind) -> dict:
    """A plan entered by GO that starts with the kind's example step ("It"), each of whose
    exits goes on to a text ("After"): plan_document's or plan_make's arguments."""
    step = {"id": "it", "name": "It", "type": kind.type, **copy.deepcopy(kind.example())}
    steps = [step]
    if kind.exits(step_data(step)):
        for way in kind.exits(step_data(step)):
            exit_set(step, way.field, "after")
        steps.append(send("after", "Done.", name="After"))
    slug = f"kind-{kind.type.replace('_', '-')}"
    return {"slug": slug, "entry": {"trigger": "keyword", "keywords": ["GO"]}, "steps": steps}


def the_step(kind) -> Step:
    return Step(id="it", name="It", type=kind.type, goal=None, data=kind.example())


def test_the_plan_of_every_variant_holds_every_kind():
    """test_plan_format.EVERYTHING (every ask match, every split_field op) lists kinds by hand."""
    assert {step["type"] for step in EVERYTHING["steps"]} == set(KINDS)


@kinds
def test_its_example_round_trips_through_import_and_export(kind, tmp_path):
    path = tmp_path / "plan.json"
    doc = plan_document(**plan_of(kind))
    path.write_text(json.dumps(doc))
    call_command("plan_import", str(path), stdout=StringIO())
    out = StringIO()
    call_command("plan_export", doc["slug"], stdout=out)
    exported = json.loads(out.getvalue())
    assert exported["steps"] == doc["steps"]
    path.write_text(out.getvalue())
    again = StringIO()
    call_command("plan_import", str(path), stdout=again)
    assert again.getvalue().strip() == "unchanged"


@kinds
def test_its_form_shows_and_saves_its_example_unchanged(kind, admin_client):
    plan = plan_make(**plan_of(kind))
    page = admin_client.get(step_url(plan, "it"))
    assert page.status_code == 200
    assert isinstance(page.context["form"], kind.form_class)
    response = post_step(admin_client, plan, "it")
    assert response.status_code == 302, response.context["form"].errors
    assert newest(plan).number == 1  # nothing changed: no draft was made


@kinds
def test_its_label_is_on_the_plan_page_and_its_timed_exits_are_dashed(kind, admin_client):
    plan = plan_make(**plan_of(kind))
    label = kind.label(the_step(kind))
    assert kind.description and label and label != kind.type
    html = admin_client.get(change_url(plan)).content.decode()
    assert escape(label) in html
    arrows = re.findall(r'<path class="edge (\w+)" data-source="it"', html)
    timed = any(way.timed for way in kind.exits(kind.example()))
    assert ("timeout" in arrows) == timed, arrows


@pytest.fixture
def run(text_in, settings, django_capture_on_commit_callbacks):
    """GO through the webhook, then "3" (which the ask's example takes), then the timers
    due three hours later (`process_timeouts`). No web service answers: a call fails."""
    settings.HTTP_STEP_ALLOW_PRIVATE = True  # nothing is looked up in the DNS

    def go(kind) -> Enrollment:
        plan_make(**plan_of(kind))
        with responses.RequestsMock(assert_all_requests_are_fired=False):
            with time_machine.travel(T0, tick=False):
                text_in(PHONE, "GO")
                text_in(PHONE, "3")
            later = time_machine.travel(T0 + timedelta(hours=3), tick=False)
            with later, django_capture_on_commit_callbacks(execute=True):
                call_command("process_timeouts", stdout=StringIO())
        return Enrollment.objects.get(contact__phone=PHONE)

    return go


@kinds
def test_it_runs_in_the_engine_from_an_inbound_message(kind, run, sms_outbox):
    enrollment = run(kind)
    assert enrollment.steps.filter(step_id="it").exists()
    assert enrollment.status == EnrollmentStatus.COMPLETED, enrollment.step_id
    if kind.exits(kind.example()):
        assert "Done." in [m.body for m in sms_outbox]


@kinds
def test_its_row_is_in_the_report(kind, run, admin_client):
    plan = run(kind).plan
    html = admin_client.get(reverse("admin:automation_plan_report", args=[plan.pk])).content.decode()
    row = html.split('<tr data-step-id="it">')[1].split("</tr>")[0]
    assert "<td>It " in row and escape(kind.description) in row and '<td class="num">1</td>' in row
    # What the step recorded for the report (a branch drawn, an answer) is what its kind says.
    recorded = set(EnrollmentStep.objects.filter(from_step_id="it").values_list("value_kind", flat=True))
    branches = kind.branches(kind.example())
    assert (EnrollmentStep.ValueKind.BRANCH in recorded) == bool(branches) == ('id="report-split-it"' in html)
    for name, _ in branches:
        assert f'data-branch="{escape(name)}"' in html.split('id="report-split-it"')[1]
    answered = bool(recorded - {"", EnrollmentStep.ValueKind.BRANCH})
    assert answered == kind.reports_answers == ('class="report-answer" data-step-id="it"' in html)


@kinds
def test_it_takes_a_turn_in_try_it(kind, admin_client):
    plan = plan_make(**plan_of(kind))
    url = reverse("admin:automation_plan_simulator", args=[plan.pk])
    assert admin_client.post(url, {"text": "GO"}).status_code == 302
    html = admin_client.get(url).content.decode()
    steps = html.split('id="simulator-steps"')[1].split("</details>")[0]
    assert "<strong>It</strong>" in steps
    event = kind.awaited_event(kind.example())
    offered = html.split('id="simulator-event"')[1].split("</form>")[0]
    if event:  # offered, and filled in while the test contact waits for it
        assert f'<option value="{event}">' in offered and f'name="type" value="{event}"' in offered
    branches = kind.branches(kind.example())
    assert ('name="split-it"' in html) == bool(branches)
    for name, _ in branches:
        assert f"take {escape(name)}" in html
