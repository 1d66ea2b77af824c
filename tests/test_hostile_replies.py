"""Reply matching cannot be used for denial of service (issue 9, point 4): a pattern that
backtracks catastrophically on Python's engine runs in linear time on RE2, through the
signed webhook; a pattern RE2 cannot run is refused when a plan is saved."""

import pytest

from automation.models import Enrollment, Plan, Transition
from automation.services.plans import plan_validate
from automation.tests.factories import PlanFactory, PlanStateFactory, TransitionFactory
from messaging.tests.factories import SmsMessageFactory

pytestmark = pytest.mark.django_db

PHONE = "+12125550150"


@pytest.fixture
def regex_plan():
    plan = PlanFactory(slug="words", entry_trigger=Plan.EntryTrigger.ANY)
    ask = PlanStateFactory(plan=plan, name="Ask", is_start=True, message=SmsMessageFactory(body="Say words."))
    done = PlanStateFactory(plan=plan, name="Words", is_final=True, message=SmsMessageFactory(body="Thanks."))
    TransitionFactory(plan=plan, from_state=ask, to_state=done, match="regex", pattern=r"^(\w+\s?)+$")
    Plan.objects.filter(pk=plan.pk).update(status=Plan.Status.ACTIVE)
    return plan


@pytest.mark.timeout(20)
def test_a_catastrophic_pattern_and_a_hostile_reply_route_at_once(regex_plan, text_in, sms_outbox):
    text_in(PHONE, "hello")
    for _ in range(5):  # 31 s each on a backtracking engine (29 a's); longer ones: hours
        text_in(PHONE, "a" * 29 + "#x")
        text_in(PHONE, "a" * 1500 + "#x")
    enrollment = Enrollment.objects.get(contact__phone=PHONE)
    assert enrollment.current_state.name == "Ask"  # none of them matched
    text_in(PHONE, "just some words")
    enrollment = Enrollment.objects.get(pk=enrollment.pk)  # a protected FSM field: read again
    assert (enrollment.status, enrollment.current_state.name) == ("completed", "Words")


@pytest.mark.parametrize("pattern", [r"(\w+)\s\1", r"^(?=.*\d)\w+$", r"(?<!no )thanks"])
def test_a_pattern_re2_cannot_run_is_refused_naming_it(regex_plan, pattern):
    Transition.objects.filter(plan=regex_plan).update(pattern=pattern)
    problems = plan_validate(plan=regex_plan)
    assert any(f"“{pattern}” cannot be used as a regular expression" in p for p in problems), problems
