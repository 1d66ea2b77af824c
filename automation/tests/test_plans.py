"""Plan services: validation rules, the lifecycle FSM, and the demo plan (load_demo_plan)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from automation.models import Plan, PlanState, Transition
from automation.services.demo_plan import DEMO_SLUG
from automation.services.plans import (
    plan_activate,
    plan_archive,
    plan_load_demo,
    plan_pause,
    plan_validate,
)
from automation.tests.factories import PlanFactory, PlanStateFactory, TransitionFactory
from messaging.models import SmsMessage
from tracking.models import Goal

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan():
    """A minimal working plan: Start --GO--> End."""
    plan = PlanFactory()
    start = PlanStateFactory(plan=plan, name="Start", is_start=True)
    end = PlanStateFactory(plan=plan, name="End", is_final=True)
    TransitionFactory(plan=plan, from_state=start, to_state=end, pattern="GO")
    return plan


def _fresh(plan: Plan) -> Plan:
    return Plan.objects.get(pk=plan.pk)  # protected FSM field: no refresh_from_db


def test_a_working_plan_has_no_problems(plan):
    assert plan_validate(plan=plan) == []


# --- validation rules -----------------------------------------------------------------


def test_no_start_state(plan):
    PlanState.objects.filter(plan=plan).update(is_start=False)
    assert any("no start state" in p for p in plan_validate(plan=plan))


def test_empty_plan_has_no_start_state():
    assert any("no start state" in p for p in plan_validate(plan=PlanFactory()))


def test_non_final_state_without_a_way_forward(plan):
    PlanStateFactory(plan=plan, name="Stuck")
    assert "State “Stuck” has no way forward: add a transition out of it, a timeout, or tick “is final”." in (
        plan_validate(plan=plan)
    )


def test_a_timeout_is_a_way_forward(plan):
    end = plan.states.get(name="End")
    PlanStateFactory(plan=plan, name="Waiting", timeout=timedelta(hours=1), timeout_to=end)
    assert plan_validate(plan=plan) == []


def test_timeout_without_target_and_target_without_timeout(plan):
    end = plan.states.get(name="End")
    PlanStateFactory(plan=plan, name="A", timeout=timedelta(hours=1), is_final=True)
    PlanStateFactory(plan=plan, name="B", timeout_to=end, is_final=True)
    problems = plan_validate(plan=plan)
    assert any("“A” has a timeout but no state to go to" in p for p in problems)
    assert any("“B” has a “timeout to” state but no timeout" in p for p in problems)


def test_transition_to_another_plans_state(plan):
    start = plan.states.get(name="Start")
    elsewhere = PlanStateFactory(name="Elsewhere")
    Transition.objects.create(plan=plan, from_state=start, to_state=elsewhere, pattern="AWAY")
    assert any(
        "leads to “Elsewhere”, which is not a state of this plan" in p for p in plan_validate(plan=plan)
    )


def test_timeout_into_another_plans_state(plan):
    elsewhere = PlanStateFactory(name="Elsewhere")
    PlanState.objects.filter(plan=plan, name="Start").update(timeout=timedelta(hours=1), timeout_to=elsewhere)
    assert any(
        "times out into “Elsewhere”, which is not a state of this plan" in p for p in plan_validate(plan=plan)
    )


@pytest.mark.parametrize("word", ["STOP", "stop", " Cancel! ", "optout", "HELP", "info"])
def test_compliance_word_as_transition_keyword(plan, word):
    Transition.objects.filter(plan=plan).update(pattern=word)
    assert any("is a compliance word" in p for p in plan_validate(plan=plan))


@pytest.mark.parametrize("word", ["START", "YES"])
def test_opt_in_words_are_ordinary_keywords(plan, word):
    # CONTRACT §5: from a contact who is not opted out these are ordinary replies.
    Transition.objects.filter(plan=plan).update(pattern=word)
    assert plan_validate(plan=plan) == []


def test_compliance_word_as_entry_keyword(plan):
    Plan.objects.filter(pk=plan.pk).update(entry_trigger="keyword", entry_keywords="JOIN, unsubscribe")
    assert any(
        "Entry keyword “unsubscribe” is a compliance word" in p for p in plan_validate(plan=_fresh(plan))
    )


def test_keyword_plan_needs_entry_keywords(plan):
    Plan.objects.filter(pk=plan.pk).update(entry_trigger="keyword", entry_keywords="")
    assert any("has no entry keywords" in p for p in plan_validate(plan=_fresh(plan)))


def test_entry_keyword_must_be_one_word(plan):
    Plan.objects.filter(pk=plan.pk).update(entry_trigger="keyword", entry_keywords="JOIN US")
    assert any("must be a single word" in p for p in plan_validate(plan=_fresh(plan)))


def test_keyword_twice_from_one_state_normalised(plan):
    start, end = plan.states.get(name="Start"), plan.states.get(name="End")
    TransitionFactory(plan=plan, from_state=start, to_state=end, pattern=" go! ", match="first_word")
    assert any("Keyword “GO” is used twice from state “Start”" in p for p in plan_validate(plan=plan))


def test_same_keyword_from_two_states_is_fine(plan):
    end = plan.states.get(name="End")
    other = PlanStateFactory(plan=plan, name="Other")
    TransitionFactory(plan=plan, from_state=other, to_state=end, pattern="GO")
    assert plan_validate(plan=plan) == []


@pytest.mark.parametrize("match", ["keyword", "first_word", "contains"])
def test_keyword_must_be_one_word(plan, match):
    Transition.objects.filter(plan=plan).update(match=match, pattern="go now")
    assert any("must be a single word" in p for p in plan_validate(plan=plan))


def test_empty_keyword(plan):
    Transition.objects.filter(plan=plan).update(pattern="")
    assert any("Enter the keyword" in p for p in plan_validate(plan=plan))


def test_invalid_regex(plan):
    Transition.objects.filter(plan=plan).update(match="regex", pattern="[a-")
    assert any("cannot be used as a regular expression" in p for p in plan_validate(plan=plan))


def test_any_match_needs_no_pattern(plan):
    Transition.objects.filter(plan=plan).update(match="any", pattern="")
    assert plan_validate(plan=plan) == []


def test_state_message_that_does_not_render(plan):
    broken = SmsMessage.objects.create(name="Broken", body="Hello {{ contact.first_name|nosuchfilter }}")
    PlanState.objects.filter(plan=plan, name="Start").update(message=broken)
    assert any("its SMS message “Broken” does not render" in p for p in plan_validate(plan=plan))


def test_state_fallback_that_does_not_render(plan):
    PlanState.objects.filter(plan=plan, name="Start").update(fallback_text="{% for %}")
    assert any("“Start”: its fallback text does not render" in p for p in plan_validate(plan=plan))


# --- lifecycle -----------------------------------------------------------------------------


def test_activate_pause_archive(plan):
    assert plan_activate(plan=plan).status == Plan.Status.ACTIVE
    assert _fresh(plan).status == Plan.Status.ACTIVE
    assert plan_pause(plan=plan).status == Plan.Status.PAUSED
    assert plan_activate(plan=plan).status == Plan.Status.ACTIVE
    assert plan_archive(plan=plan).status == Plan.Status.ARCHIVED
    assert _fresh(plan).status == Plan.Status.ARCHIVED


def test_activation_is_refused_with_what_to_fix():
    broken = PlanFactory()
    PlanStateFactory(plan=broken, name="Only")
    with pytest.raises(ValidationError) as exc:
        plan_activate(plan=broken)
    assert "no start state" in " ".join(exc.value.messages)
    assert "State “Only” has no way forward" in " ".join(exc.value.messages)
    assert _fresh(broken).status == Plan.Status.DRAFT


@pytest.mark.parametrize(
    ("service", "status"),
    [
        (plan_pause, "draft"),
        (plan_activate, "archived"),
        (plan_archive, "archived"),
        (plan_activate, "active"),
    ],
)
def test_transitions_not_allowed_from_a_status(plan, service, status):
    Plan.objects.filter(pk=plan.pk).update(status=status)
    with pytest.raises(ValidationError, match="cannot be"):
        service(plan=_fresh(plan))
    assert _fresh(plan).status == status


def test_status_cannot_be_set_directly(plan):
    with pytest.raises(AttributeError):
        plan.status = Plan.Status.ACTIVE


# --- the demo plan -------------------------------------------------------------------------


def _world() -> dict:
    """Everything load_demo_plan touches, every column."""
    return {
        "plans": list(Plan.objects.order_by("pk").values()),
        "states": list(PlanState.objects.order_by("pk").values()),
        "transitions": list(Transition.objects.order_by("pk").values()),
        "messages": list(SmsMessage.objects.order_by("pk").values()),
        "goals": list(Goal.objects.order_by("pk").values()),
    }


def test_load_demo_plan_creates_the_contract_journey():
    out = StringIO()
    call_command("load_demo_plan", stdout=out)
    plan = Plan.objects.get(slug=DEMO_SLUG)
    assert plan.status == Plan.Status.ACTIVE
    assert plan.entry_trigger == Plan.EntryTrigger.ANY
    assert plan.reentry == Plan.Reentry.AFTER_END
    assert plan.enrollment_lifetime == timedelta(days=7)
    states = {s.name: s for s in plan.states.select_related("message", "goal", "timeout_to")}
    assert list(plan.states.order_by("position").values_list("name", flat=True)) == [
        "Invited",
        "Reminded",
        "Quoted",
        "Purchased",
    ]
    invited, reminded, quoted, purchased = (states[n] for n in ("Invited", "Reminded", "Quoted", "Purchased"))
    assert (invited.is_start, invited.is_final) == (True, False)
    assert invited.message.body == "Hi! Reply QUOTE to get your exclusive discount."
    assert invited.timeout == timedelta(hours=24)
    assert invited.timeout_to == reminded
    assert invited.fallback_text == "Sorry, we didn't catch that. Reply QUOTE for your discount."
    assert invited.goal is None
    assert reminded.message.body == "Still interested? Reply QUOTE for your discount."
    assert reminded.fallback_text == "Sorry, we didn't catch that. Reply QUOTE for your discount."
    assert (reminded.timeout, reminded.timeout_to, reminded.goal) == (None, None, None)
    assert quoted.message.body == "Your quote: 15% off your next order. Reply BUY to claim it."
    assert quoted.fallback_text == "Sorry, we didn't catch that. Reply BUY to claim your discount."
    assert (quoted.goal.name, quoted.goal.points) == ("Quote requested", 10)
    assert purchased.message.body == "Thanks for your purchase! Your discount is applied."
    assert (purchased.is_final, purchased.goal.name, purchased.goal.points) == (True, "Purchase", 50)
    assert sum(s.is_start for s in states.values()) == 1
    transitions = {
        (t.from_state.name, t.match, t.pattern, t.to_state.name)
        for t in plan.transitions.select_related("from_state", "to_state")
    }
    assert transitions == {
        ("Invited", "keyword", "QUOTE", "Quoted"),
        ("Reminded", "keyword", "QUOTE", "Quoted"),
        ("Quoted", "keyword", "BUY", "Purchased"),
    }
    assert plan_validate(plan=plan) == []
    assert "quote-and-buy" in out.getvalue()
    assert "4 states, 3 transitions" in out.getvalue()


def test_load_demo_plan_twice_changes_nothing():
    call_command("load_demo_plan", stdout=StringIO())
    first = _world()
    out = StringIO()
    call_command("load_demo_plan", stdout=out)
    assert _world() == first
    assert "unchanged" in out.getvalue()
    assert (Plan.objects.count(), PlanState.objects.count(), Transition.objects.count()) == (1, 4, 3)
    assert (SmsMessage.objects.count(), Goal.objects.count()) == (4, 2)


def test_load_demo_plan_restores_what_a_marketer_changed():
    plan = plan_load_demo()
    pristine = _world()
    invited = plan.states.get(name="Invited")
    SmsMessage.objects.filter(pk=invited.message_id).update(body="Hey! Text QUOTE.")
    PlanState.objects.filter(pk=invited.pk).update(fallback_text="Huh?", timeout=timedelta(hours=2))
    Transition.objects.filter(plan=plan, pattern="BUY").update(pattern="PAY")
    Goal.objects.filter(name="Purchase").update(points=99)
    extra = PlanStateFactory(plan=plan, name="Survey", is_final=True)
    TransitionFactory(plan=plan, from_state=invited, to_state=extra, pattern="SURVEY")
    plan_pause(plan=plan)

    call_command("load_demo_plan", stdout=StringIO())

    restored = _world()
    assert _fresh(plan).status == Plan.Status.ACTIVE
    assert plan.states.get(name="Invited").message.body == "Hi! Reply QUOTE to get your exclusive discount."
    assert not PlanState.objects.filter(name="Survey").exists()
    assert set(plan.transitions.values_list("pattern", flat=True)) == {"QUOTE", "BUY"}
    assert Goal.objects.get(name="Purchase").points == 50
    # Same rows as a fresh load, apart from the timestamps and the re-created BUY transition.
    strip = {"updated_at", "created_at", "id"}

    def comparable(world):
        return {
            k: [{c: v for c, v in row.items() if c not in strip} for row in rows] for k, rows in world.items()
        }

    assert comparable(restored) == comparable(pristine)


def test_load_demo_plan_brings_back_an_archived_demo():
    plan = plan_load_demo()
    plan_archive(plan=plan)
    call_command("load_demo_plan", stdout=StringIO())
    assert _fresh(plan).status == Plan.Status.ACTIVE
