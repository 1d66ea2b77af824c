"""Plan services: the lifecycle FSM, publishing and revisions, and the demo plan
(load_demo_plan), through the services and commands a marketer's actions use."""

import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from automation.engine.demo_plan import DEMO_SLUG
from automation.engine.plans import (
    plan_activate,
    plan_archive,
    plan_draft_save,
    plan_import,
    plan_load_demo,
    plan_pause,
    plan_publish,
    plan_rollback,
)
from automation.models import Plan, PlanRevision
from automation.tests.factories import plan_document, plan_make
from conftest import command
from tracking.models import Goal

pytestmark = pytest.mark.django_db


def _fresh(plan: Plan) -> Plan:
    return Plan.objects.get(pk=plan.pk)  # protected FSM field: no refresh_from_db


# --- lifecycle -----------------------------------------------------------------------------


def test_a_draft_is_activated_paused_activated_again_and_archived():
    plan = plan_make(status=Plan.Status.DRAFT)
    assert plan_activate(plan=plan).status == Plan.Status.ACTIVE
    assert _fresh(plan).status == Plan.Status.ACTIVE
    assert plan_pause(plan=plan).status == Plan.Status.PAUSED
    assert plan_activate(plan=plan).status == Plan.Status.ACTIVE
    assert plan_archive(plan=plan).status == Plan.Status.ARCHIVED
    assert _fresh(plan).status == Plan.Status.ARCHIVED


def test_activation_needs_a_published_revision():
    plan = plan_make(publish=False, status=Plan.Status.DRAFT)
    with pytest.raises(ValidationError) as exc:
        plan_activate(plan=plan)
    assert "publish the draft" in " ".join(exc.value.messages)
    assert _fresh(plan).status == Plan.Status.DRAFT


@pytest.mark.parametrize(
    ("service", "status"),
    [
        (plan_pause, "draft"),
        (plan_activate, "archived"),
        (plan_archive, "archived"),
        (plan_activate, "active"),
    ],
)
def test_transitions_not_allowed_from_a_status(service, status):
    plan = plan_make(status=status)
    with pytest.raises(ValidationError, match="cannot be"):
        service(plan=_fresh(plan))
    assert _fresh(plan).status == status


def test_status_cannot_be_set_directly():
    with pytest.raises(AttributeError):
        plan_make().status = Plan.Status.ACTIVE


# --- drafts, publishing, revisions ---------------------------------------------------------------


def test_import_answers_the_plan_as_publishing_left_it():
    result = plan_import(document=plan_document(slug="fresh"))
    assert (result.plan.status, result.plan.published.number) == ("active", 1)


def test_publishing_a_draft_makes_the_next_revision_and_activates_a_new_plan():
    document = plan_document(slug="spring")
    plan = plan_import(document=document, draft=True).plan
    assert (_fresh(plan).status, plan.published_id) == (Plan.Status.DRAFT, None)
    revision = plan_publish(plan=plan)
    plan = _fresh(plan)
    assert (revision.number, plan.published_id, plan.status) == (1, revision.pk, Plan.Status.ACTIVE)
    assert revision.published_at is not None
    with pytest.raises(ValidationError, match="no draft"):
        plan_publish(plan=plan)


def test_a_published_revision_never_changes():
    plan = plan_make()
    revision = plan.published
    revision.document = {**revision.document, "name": "Changed"}
    with pytest.raises(ValueError, match="never changes"):
        revision.save()
    # A new draft is a new revision; the published one keeps its document.
    draft = plan_draft_save(plan=plan, document={**revision.document, "name": "Changed"})
    assert (draft.number, PlanRevision.objects.get(pk=revision.pk).document["name"]) == (2, plan.name)


def test_editing_the_draft_twice_keeps_one_draft():
    plan = plan_make()
    document = dict(plan.published.document)
    first = plan_draft_save(plan=plan, document={**document, "name": "One"})
    second = plan_draft_save(plan=plan, document={**document, "name": "Two"})
    assert first.pk == second.pk
    assert plan.revisions.filter(published_at__isnull=True).count() == 1


def test_rollback_publishes_an_old_revision_again_as_the_next_one():
    plan = plan_make(name="First")
    first = plan.published
    plan_import(document={**first.document, "name": "Second"})
    new = plan_rollback(plan=_fresh(plan), revision=first)
    plan = _fresh(plan)
    assert (new.number, plan.published_id, plan.name) == (3, new.pk, "First")
    assert new.document == first.document


def test_a_draft_with_another_slug_is_refused():
    plan = plan_make(slug="one")
    from automation.flow import FlowInvalid

    with pytest.raises(FlowInvalid, match="not this plan's slug"):
        plan_draft_save(plan=plan, document=plan_document(slug="two"))


# --- the demo plan -------------------------------------------------------------------------


def _export(slug: str = DEMO_SLUG) -> dict:
    return json.loads(command("plan_export", slug)[0])


def test_load_demo_plan_creates_the_contract_journey():
    out = StringIO()
    call_command("load_demo_plan", stdout=out)
    plan = Plan.objects.get(slug=DEMO_SLUG)
    assert plan.status == Plan.Status.ACTIVE
    assert "quote-and-buy" in out.getvalue()
    document = _export()
    assert (document["entry"]["trigger"], document["reentry"], document["lifetime"]) == (
        "any",
        "after_end",
        "P7D",
    )
    steps = {s["id"]: s for s in document["steps"]}
    assert [(s["id"], s["type"], s["name"]) for s in document["steps"]] == [
        ("invited", "ask", "Invited"),
        ("reminded", "ask", "Reminded"),
        ("quoted", "ask", "Quoted"),
        ("purchased", "send", "Purchased"),
    ]
    assert document["start"] == "invited"
    assert steps["invited"]["text"] == "Hi! Reply QUOTE to get your exclusive discount."
    assert steps["invited"]["timeout"] == {"after": "PT24H", "next": "reminded"}
    assert steps["invited"]["rules"] == [{"match": "keyword", "words": ["QUOTE"], "next": "quoted"}]
    assert steps["invited"]["other"] == {
        "text": "Sorry, we didn't catch that. Reply QUOTE for your discount.",
        "repeat": 1,
        "next": None,
    }
    assert steps["reminded"]["text"] == "Still interested? Reply QUOTE for your discount."
    assert "timeout" not in steps["reminded"]
    assert steps["quoted"]["text"] == "Your quote: 15% off your next order. Reply BUY to claim it."
    assert (
        steps["quoted"]["other"]["text"] == "Sorry, we didn't catch that. Reply BUY to claim your discount."
    )
    assert steps["quoted"]["goal"] == "quote-requested"
    assert (steps["purchased"]["text"], steps["purchased"]["goal"], steps["purchased"]["next"]) == (
        "Thanks for your purchase! Your discount is applied.",
        "purchase",
        None,
    )
    assert [(g["slug"], g["name"], g["points"]) for g in document["goals"]] == [
        ("quote-requested", "Quote requested", 10),
        ("purchase", "Purchase", 50),
    ]
    assert {(g.slug, g.points) for g in Goal.objects.all()} == {("quote-requested", 10), ("purchase", 50)}


def test_load_demo_plan_twice_changes_nothing():
    call_command("load_demo_plan", stdout=StringIO())
    first = (list(Plan.objects.values()), list(PlanRevision.objects.values()), list(Goal.objects.values()))
    out = StringIO()
    call_command("load_demo_plan", stdout=out)
    assert (
        list(Plan.objects.values()),
        list(PlanRevision.objects.values()),
        list(Goal.objects.values()),
    ) == first
    assert "unchanged" in out.getvalue()


def test_load_demo_plan_restores_what_a_marketer_changed():
    plan = plan_load_demo()
    pristine = _export()
    changed = json.loads(json.dumps(pristine))
    changed["steps"][0]["text"] = "Hey! Text QUOTE."
    changed["steps"][2]["rules"][0]["words"] = ["PAY"]
    plan_import(document=changed)
    Goal.objects.filter(slug="purchase").update(points=99)
    plan_pause(plan=_fresh(plan))

    call_command("load_demo_plan", stdout=StringIO())

    plan = _fresh(plan)
    assert plan.status == Plan.Status.ACTIVE
    assert plan.published.number == 3
    assert _export() == pristine
    assert Goal.objects.get(slug="purchase").points == 50


def test_load_demo_plan_brings_back_an_archived_demo():
    plan = plan_load_demo()
    plan_archive(plan=plan)
    call_command("load_demo_plan", stdout=StringIO())
    assert _fresh(plan).status == Plan.Status.ACTIVE
