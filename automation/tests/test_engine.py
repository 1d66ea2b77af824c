"""The journey engine (DESIGN §3), driven through the inbound service door."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from automation.models import Enrollment, EnrollmentStep, Plan
from automation.services import enrollment_end, enrollment_start
from automation.tests.factories import PlanFactory, PlanStateFactory, TransitionFactory
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from messaging.models import OutboundMessage
from messaging.tests.factories import SmsMessageFactory
from tracking.models import GoalConversion
from tracking.tests.factories import GoalFactory

pytestmark = pytest.mark.django_db

PHONE = "+12125550123"


@pytest.fixture
def receive(text_in):
    """One message through the signed webhook (stored, routed, the replies sent)."""

    def run(body: str, phone: str = PHONE):
        return text_in(phone, body)

    return run


def sent(outbox, phone=PHONE):
    return [m.body for m in outbox if m.to == phone]


def state(plan, name, **kwargs):
    text = kwargs.pop("text", None)
    if text is not None:
        kwargs["message"] = SmsMessageFactory(body=text)
    return PlanStateFactory(plan=plan, name=name, **kwargs)


def keyword_plan(keywords: str, **kwargs):
    plan = PlanFactory(status="active", entry_trigger="keyword", entry_keywords=keywords, **kwargs)
    start = state(plan, "Start", is_start=True, text=f"Welcome to {plan.name}. Reply OK.")
    done = state(plan, "Done", is_final=True, text=f"{plan.name} done.")
    TransitionFactory(plan=plan, from_state=start, to_state=done, pattern="OK")
    return plan


def active(contact_phone=PHONE):
    return list(
        Enrollment.objects.filter(contact__phone=contact_phone, status="active").values_list(
            "plan__slug", flat=True
        )
    )


# --- entry ------------------------------------------------------------------------------


def test_another_plans_entry_keyword_interrupts_the_current_enrollment(demo_plan, receive, sms_outbox):
    deal = keyword_plan("DEAL, Promo", name="Deals", slug="deals")
    receive("hello")
    receive("  Deal! ")
    demo = Enrollment.objects.get(plan=demo_plan)
    assert demo.status == Enrollment.Status.EXITED
    assert "DEAL" in demo.end_reason
    assert EnrollmentStep.objects.filter(enrollment=demo).last().via == "exit"
    assert active() == ["deals"]
    assert sent(sms_outbox)[-1] == "Welcome to Deals. Reply OK."
    receive("promo")  # a keyword of the plan the contact is in: no second enrollment
    assert Enrollment.objects.filter(plan=deal).count() == 1


def test_a_plan_that_does_not_interrupt_runs_beside_the_current_one(demo_plan, receive, sms_outbox):
    keyword_plan("DEAL", name="Deals", slug="deals", interrupts_other_plans=False)
    receive("hello")
    receive("deal")
    assert sorted(active()) == ["deals", "quote-and-buy"]
    # A reply is tried on the enrollment entered last first, then on the others.
    receive("QUOTE")
    assert Enrollment.objects.get(plan=demo_plan).current_state.name == "Quoted"
    receive("OK")
    assert Enrollment.objects.get(plan__slug="deals").status == "completed"
    assert sent(sms_outbox)[-1] == "Deals done."


def test_entry_keywords_match_the_whole_message(receive, sms_outbox):
    keyword_plan("DEAL", name="Deals", slug="deals")
    receive("deal me in")
    assert active() == []
    assert sent(sms_outbox) == []


def test_only_active_plans_enroll(receive, sms_outbox):
    draft = PlanFactory(status="draft", entry_trigger="any")
    state(draft, "Start", is_start=True, text="draft")
    paused = PlanFactory(status="paused", entry_trigger="any")
    state(paused, "Start", is_start=True, text="paused")
    receive("hello")
    assert active() == []
    assert sent(sms_outbox) == []


def test_catch_all_enrolls_in_the_oldest_plan_only(receive, sms_outbox):
    first = PlanFactory(status="active", entry_trigger="any", slug="first")
    state(first, "Start", is_start=True, text="first", fallback_text="first fallback")
    second = PlanFactory(status="active", entry_trigger="any", slug="second")
    state(second, "Start", is_start=True, text="second")
    receive("hello")
    receive("hello again")  # in a conversation: the fallback, not a second journey
    assert active() == ["first"]
    assert sent(sms_outbox) == ["first", "first fallback"]


def test_reentry_never_means_once_per_contact(receive, sms_outbox):
    plan = PlanFactory(status="active", entry_trigger="any", reentry=Plan.Reentry.NEVER)
    state(plan, "Only", is_start=True, is_final=True, text="Once only.")
    receive("hello")
    assert Enrollment.objects.get().status == "completed"
    receive("hello again")
    receive("and again")
    assert Enrollment.objects.count() == 1
    assert sent(sms_outbox) == ["Once only."]


def test_reentry_after_end(receive, sms_outbox):
    plan = PlanFactory(status="active", entry_trigger="any")
    state(plan, "Only", is_start=True, is_final=True, text="Hello {{ contact.first_name|default:'friend' }}.")
    receive("hi")
    receive("hi")
    assert Enrollment.objects.filter(status="completed").count() == 2
    assert sent(sms_outbox) == ["Hello friend.", "Hello friend."]


# --- transitions and goals -----------------------------------------------------------------


def test_transitions_are_tried_in_priority_order(receive, sms_outbox):
    plan = PlanFactory(status="active")
    start = state(plan, "Start", is_start=True, text="Pick")
    TransitionFactory(
        plan=plan, from_state=start, to_state=state(plan, "Any", text="any"), match="any", priority=5
    )
    TransitionFactory(
        plan=plan, from_state=start, to_state=state(plan, "Red", text="red"), match="contains", pattern="red"
    )
    receive("hi")
    receive("I like RED, really")
    assert Enrollment.objects.get().current_state.name == "Red"
    assert sent(sms_outbox) == ["Pick", "red"]


def test_goals_of_the_transition_and_the_state_are_recorded_once_per_enrollment(receive, sms_outbox):
    plan = PlanFactory(status="active")
    asked = GoalFactory(name="Asked", points=3)
    clicked = GoalFactory(name="Clicked", points=5)
    a = state(plan, "A", is_start=True, text="A")
    b = state(plan, "B", text="B", goal=asked)
    TransitionFactory(plan=plan, from_state=a, to_state=b, pattern="GO", goal=clicked)
    TransitionFactory(plan=plan, from_state=b, to_state=a, pattern="BACK")
    for body in ("hi", "go", "back", "go", "back", "go"):
        receive(body)
    contact = Contact.objects.get()
    assert sorted(GoalConversion.objects.values_list("goal__name", flat=True)) == ["Asked", "Clicked"]
    assert contact.engagement_value == 8
    assert sent(sms_outbox) == ["A", "B", "A", "B", "A", "B"]
    assert EnrollmentStep.objects.filter(via="reply").count() == 5


def test_a_final_start_state_completes_at_once(receive, sms_outbox):
    plan = PlanFactory(status="active")
    state(plan, "Thanks", is_start=True, is_final=True, text="Thanks!", goal=GoalFactory(points=7))
    receive("hi")
    enrollment = Enrollment.objects.get()
    assert (enrollment.status, enrollment.current_state.name) == ("completed", "Thanks")
    assert Contact.objects.get().engagement_value == 7
    assert sent(sms_outbox) == ["Thanks!"]


def test_a_state_without_message_starts_its_timeout_on_entry(receive):
    plan = PlanFactory(status="active")
    state(plan, "Wait", is_start=True, timeout=timedelta(hours=2))
    with time_machine.travel(datetime(2030, 1, 1, 12, tzinfo=UTC), tick=False):
        receive("hi")
    assert Enrollment.objects.get().timeout_at == datetime(2030, 1, 1, 14, tzinfo=UTC)


def test_every_reply_pushes_a_running_timeout_on(demo_plan, receive):
    t0 = datetime(2030, 1, 1, 12, tzinfo=UTC)
    with time_machine.travel(t0, tick=False):
        receive("hello")
    enrollment = Enrollment.objects.get()
    assert enrollment.timeout_at == t0 + timedelta(hours=24)  # started when the prompt was sent
    with time_machine.travel(t0 + timedelta(hours=5), tick=False):
        receive("not sure")
    enrollment = Enrollment.objects.get()
    assert enrollment.last_inbound_at == t0 + timedelta(hours=5)
    assert enrollment.timeout_at == t0 + timedelta(hours=29)


def test_entering_a_state_resets_fallback_and_timeout(demo_plan, receive, sms_outbox):
    receive("hello")
    receive("eh")
    assert Enrollment.objects.get().fallback_sent is True
    receive("quote")
    enrollment = Enrollment.objects.get()
    assert enrollment.fallback_sent is False
    assert enrollment.current_state.name == "Quoted"
    assert enrollment.timeout_at is None  # Quoted waits for no timeout
    assert OutboundMessage.objects.filter(purpose="prompt", state__name="Quoted").count() == 1


def test_an_unrenderable_message_is_not_sent_but_the_state_is_entered(receive, sms_outbox):
    plan = PlanFactory(status="active")
    state(plan, "Start", is_start=True, text="Hi {% if %}")
    receive("hi")
    assert Enrollment.objects.get().current_state.name == "Start"
    assert sent(sms_outbox) == []


def test_messages_render_with_the_contact(receive, sms_outbox):
    ContactFactory(phone=PHONE, first_name="Ada")
    plan = PlanFactory(status="active", name="Spring")
    state(
        plan,
        "Start",
        is_start=True,
        text="Hi {{ contact.first_name }}, welcome to {{ enrollment.plan.name }}.",
    )
    receive("hi")
    assert sent(sms_outbox) == ["Hi Ada, welcome to Spring."]


# --- services called directly by other apps ---------------------------------------------------


def test_enrollment_end_records_the_step_and_refuses_non_ending_statuses():
    enrollment = enrollment_start(contact=ContactFactory(), plan=keyword_plan("GO"))
    with pytest.raises(ValueError, match="does not end"):
        enrollment_end(enrollment=enrollment, status="active")
    enrollment_end(enrollment=enrollment, status="failed", reason="Twilio 21211")
    enrollment = Enrollment.objects.get(pk=enrollment.pk)
    assert (enrollment.status, enrollment.end_reason, enrollment.timeout_at) == (
        "failed",
        "Twilio 21211",
        None,
    )
    assert list(EnrollmentStep.objects.filter(enrollment=enrollment).values_list("via", flat=True)) == [
        "enroll",
        "fail",
    ]


def test_opted_out_contacts_cannot_be_enrolled():
    with pytest.raises(ValueError, match="opted out"):
        enrollment_start(contact=ContactFactory(opted_out=True), plan=keyword_plan("GO"))
    assert not Enrollment.objects.exists()


def test_a_plan_without_start_state_cannot_enroll():
    with pytest.raises(ValueError, match="no start state"):
        enrollment_start(contact=ContactFactory(), plan=PlanFactory(status="active"))
