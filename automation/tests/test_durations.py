"""docs/reference.md §6: a plan's durations (its lifetime, a timeout's `after`, a delay's `for`) are
at most P366D. Longer ones are refused where a marketer writes them (the step editor, the
plan's settings; the JSON doors: test_malformed_plans.py), and one stored before the bound
is taken as 366 days: no date arithmetic on it can overflow and stop the routing."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from automation.engine.revisions import revision_cache_clear
from automation.models import Enrollment, PlanRevision
from automation.tests.admin_forms import newest, post_change, post_step
from automation.tests.factories import ask, plan_make, send
from conftest import bodies

pytestmark = pytest.mark.django_db

PHONE = "+12125550160"
T0 = datetime(2030, 3, 4, 15, 0, tzinfo=UTC)
YEAR = timedelta(days=366)


def test_the_longest_durations_allowed_are_366_days(tmp_path):
    document = plan_make(
        lifetime="P366D",
        steps=[
            ask("q", "Hi?", [("YES", "pause")], timeout={"after": "PT8784H", "next": "pause"}),
            {"id": "pause", "type": "delay", "for": "PT527040M", "next": None},
        ],
    ).published.document
    assert (document["lifetime"], document["steps"][0]["timeout"]["after"]) == ("P366D", "PT8784H")


def test_the_step_editor_refuses_a_wait_longer_than_366_days(marketer_client, demo_plan):
    response = post_step(marketer_client, demo_plan, "invited", timeout_after_0="367", timeout_after_1="days")
    assert response.status_code == 200
    assert response.context["form"].errors["timeout_after"] == [
        "367 days is longer than 366 days, the longest allowed."
    ]
    response = post_step(
        marketer_client, demo_plan, "invited", timeout_after_0="9000", timeout_after_1="hours"
    )
    assert "9,000 hours is longer than 366 days" in response.context["form"].errors["timeout_after"][0]
    assert demo_plan.revisions.count() == 1  # nothing saved


def test_the_plan_s_settings_refuse_a_lifetime_longer_than_366_days(marketer_client, demo_plan):
    response = post_change(marketer_client, demo_plan, lifetime_0="400", lifetime_1="days")
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["lifetime"] == [
        "400 days is longer than 366 days, the longest allowed."
    ]
    assert demo_plan.revisions.count() == 1
    response = post_change(marketer_client, demo_plan, lifetime_0="366", lifetime_1="days")
    assert response.status_code == 302
    assert newest(demo_plan).document["lifetime"] == "P366D"


def _stored_as(plan, change) -> None:
    """The plan's published revision as an import before the bound may have left it."""
    revision = plan.published
    document = revision.document
    change(document)
    PlanRevision.objects.filter(pk=revision.pk).update(document=document)
    revision_cache_clear()  # a process that starts with it


def test_durations_stored_before_the_bound_are_taken_as_366_days(text_in, sms_outbox, timers):
    plan = plan_make(
        steps=[
            ask("q", "Reply LATER.", [("LATER", "pause")], timeout={"after": "PT2H", "next": None}),
            {"id": "pause", "type": "delay", "for": "PT1H", "next": "wait"},
            {"id": "wait", "type": "wait_event", "event": "purchase", "next": None,
             "timeout": {"after": "P1D", "next": "bye"}},
            send("bye", "Bye."),
        ]
    )  # fmt: skip

    def longer(document):
        document["lifetime"] = "P999999999D"  # the most a timedelta holds
        document["steps"][0]["timeout"]["after"] = "P999999999D"
        document["steps"][1]["for"] = "P9999999999D"  # more than a timedelta holds
        document["steps"][2]["timeout"]["after"] = "PT99999999999999999999H"

    _stored_as(plan, longer)

    with time_machine.travel(T0, tick=False):
        text_in(PHONE, "hi")
    enrollment = Enrollment.objects.get()
    assert bodies(sms_outbox) == ["Reply LATER."]
    assert (enrollment.step_id, enrollment.expires_at, enrollment.timeout_at) == ("q", T0 + YEAR, T0 + YEAR)

    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        text_in(PHONE, "later")
    enrollment = Enrollment.objects.get()
    assert (enrollment.step_id, enrollment.timeout_at) == ("pause", T0 + timedelta(hours=1) + YEAR)

    assert timers(T0 + timedelta(hours=1) + YEAR) == 1
    enrollment = Enrollment.objects.get()
    assert (enrollment.step_id, enrollment.timeout_at) == ("wait", T0 + timedelta(hours=1) + 2 * YEAR)
