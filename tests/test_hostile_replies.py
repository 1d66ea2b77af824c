"""Reply matching cannot be used for denial of service (issue 9, point 4): a pattern that
backtracks catastrophically on Python's engine runs in linear time on RE2, through the
signed webhook; a pattern RE2 cannot run is refused when a plan is saved."""

import pytest

from automation.models import Enrollment
from automation.tests.factories import ask, plan_make, send

pytestmark = pytest.mark.django_db

PHONE = "+12125550150"


@pytest.fixture
def regex_plan():
    return plan_make(
        slug="words",
        steps=[
            ask("ask", "Say words.", [({"match": "regex", "pattern": r"^(\w+\s?)+$"}, "words")], name="Ask"),
            send("words", "Thanks.", name="Words"),
        ],
    )


@pytest.mark.timeout(20)
def test_a_catastrophic_pattern_and_a_hostile_reply_route_at_once(regex_plan, text_in, sms_outbox):
    text_in(PHONE, "hello")
    for _ in range(5):  # 31 s each on a backtracking engine (29 a's); longer ones: hours
        text_in(PHONE, "a" * 29 + "#x")
        text_in(PHONE, "a" * 1500 + "#x")
    enrollment = Enrollment.objects.get(contact__phone=PHONE)
    assert enrollment.step_id == "ask"  # none of them matched
    text_in(PHONE, "just some words")
    enrollment = Enrollment.objects.get(pk=enrollment.pk)  # a protected FSM field: read again
    assert (enrollment.status, enrollment.step_id) == ("completed", "words")


@pytest.mark.parametrize("pattern", [r"(\w+)\s\1", r"^(?=.*\d)\w+$", r"(?<!no )thanks"])
def test_a_pattern_re2_cannot_run_is_refused_naming_it(regex_plan, pattern):
    from automation.engine.plans import plan_import
    from automation.flow import FlowInvalid

    document = regex_plan.published.document
    document["steps"][0]["rules"][0]["pattern"] = pattern
    with pytest.raises(FlowInvalid) as exc:
        plan_import(document=document)
    assert f"“{pattern}” cannot be used as a regular expression" in str(exc.value)
    assert regex_plan.revisions.count() == 1
