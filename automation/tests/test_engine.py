"""The journey engine (docs/architecture.md §3), driven through the signed webhook."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from automation.engine import enrollment_end, enrollment_start
from automation.models import Enrollment, EnrollmentStep
from automation.tests.factories import ask, plan_make, send
from conftest import bodies
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from messaging.models import OutboundMessage
from tracking.models import GoalConversion

pytestmark = pytest.mark.django_db

PHONE = "+12125550123"


def keyword_plan(keywords: list[str], name: str, slug: str, **top):
    return plan_make(
        name=name,
        slug=slug,
        entry={"trigger": "keyword", "keywords": keywords},
        steps=[
            ask("start", f"Welcome to {name}. Reply OK.", [("OK", "done")]),
            send("done", f"{name} done."),
        ],
        **top,
    )


def only(step_id: str, text: str, **top):
    """A plan of one send step (it completes at once)."""
    return plan_make(steps=[send(step_id, text)], **top)


def active(contact_phone=PHONE):
    return list(
        Enrollment.objects.filter(contact__phone=contact_phone, status="active").values_list(
            "plan__slug", flat=True
        )
    )


# --- entry ------------------------------------------------------------------------------


def test_another_plans_entry_keyword_interrupts_the_current_enrollment(demo_plan, text_in, sms_outbox):
    deal = keyword_plan(["DEAL", "Promo"], name="Deals", slug="deals")
    text_in(PHONE, "hello")
    text_in(PHONE, "  Deal! ")
    demo = Enrollment.objects.get(plan=demo_plan)
    assert demo.status == Enrollment.Status.EXITED
    assert "DEAL" in demo.end_reason
    assert EnrollmentStep.objects.filter(enrollment=demo).last().via == "exit"
    assert active() == ["deals"]
    assert bodies(sms_outbox, PHONE)[-1] == "Welcome to Deals. Reply OK."
    text_in(PHONE, "promo")  # a keyword of the plan the contact is in: no second enrollment
    assert Enrollment.objects.filter(plan=deal).count() == 1


def test_a_plan_that_does_not_interrupt_runs_beside_the_current_one(demo_plan, text_in, sms_outbox):
    keyword_plan(["DEAL"], name="Deals", slug="deals", interrupts_other_plans=False)
    text_in(PHONE, "hello")
    text_in(PHONE, "deal")
    assert sorted(active()) == ["deals", "quote-and-buy"]
    # A reply is tried on the enrollment entered last first, then on the others.
    text_in(PHONE, "QUOTE")
    assert Enrollment.objects.get(plan=demo_plan).step_id == "quoted"
    text_in(PHONE, "OK")
    assert Enrollment.objects.get(plan__slug="deals").status == "completed"
    assert bodies(sms_outbox, PHONE)[-1] == "Deals done."


def test_entry_keywords_match_the_whole_message(text_in, sms_outbox):
    keyword_plan(["DEAL"], name="Deals", slug="deals")
    text_in(PHONE, "deal me in")
    assert active() == []
    assert bodies(sms_outbox, PHONE) == []


def test_only_active_plans_enroll(text_in, sms_outbox):
    only("start", "draft", status="draft")
    only("start", "paused", status="paused")
    text_in(PHONE, "hello")
    assert active() == []
    assert bodies(sms_outbox, PHONE) == []


def test_catch_all_enrolls_in_the_oldest_plan_only(text_in, sms_outbox):
    plan_make(slug="first", steps=[ask("start", "first", other={"text": "first fallback"})])
    only("start", "second", slug="second")
    text_in(PHONE, "hello")
    text_in(PHONE, "hello again")  # in a conversation: the fallback, not a second journey
    assert active() == ["first"]
    assert bodies(sms_outbox, PHONE) == ["first", "first fallback"]


def test_reentry_never_means_once_per_contact(text_in, sms_outbox):
    only("only", "Once only.", reentry="never")
    text_in(PHONE, "hello")
    assert Enrollment.objects.get().status == "completed"
    text_in(PHONE, "hello again")
    text_in(PHONE, "and again")
    assert Enrollment.objects.count() == 1
    assert bodies(sms_outbox, PHONE) == ["Once only."]


def test_a_contact_enters_again_once_the_last_enrollment_ended(text_in, sms_outbox):
    only("only", "Hello {{ contact.first_name|default:'friend' }}.")
    text_in(PHONE, "hi")
    text_in(PHONE, "hi")
    assert Enrollment.objects.filter(status="completed").count() == 2
    assert bodies(sms_outbox, PHONE) == ["Hello friend.", "Hello friend."]


# --- rules and goals ------------------------------------------------------------------------


def test_rules_are_tried_in_order(text_in, sms_outbox):
    plan_make(
        steps=[
            ask(
                "start", "Pick", [({"match": "contains", "words": ["red"]}, "red"), ({"match": "any"}, "any")]
            ),
            ask("red", "red"),
            ask("any", "any"),
        ]
    )
    text_in(PHONE, "hi")
    text_in(PHONE, "I like RED, really")
    assert Enrollment.objects.get().step_id == "red"
    assert bodies(sms_outbox, PHONE) == ["Pick", "red"]


def test_goals_of_the_rule_and_the_step_are_recorded_once_per_enrollment(text_in, sms_outbox):
    plan_make(
        goals=[
            {"slug": "asked", "name": "Asked", "points": 3},
            {"slug": "clicked", "name": "Clicked", "points": 5},
        ],
        steps=[
            ask("a", "A", [({"match": "keyword", "words": ["GO"], "goal": "clicked"}, "b")]),
            ask("b", "B", [("BACK", "a")], goal="asked"),
        ],
    )
    for body in ("hi", "go", "back", "go", "back", "go"):
        text_in(PHONE, body)
    contact = Contact.objects.get()
    assert sorted(GoalConversion.objects.values_list("goal__name", flat=True)) == ["Asked", "Clicked"]
    assert contact.engagement_value == 8
    assert bodies(sms_outbox, PHONE) == ["A", "B", "A", "B", "A", "B"]
    assert EnrollmentStep.objects.filter(via="reply").count() == 5


def test_a_send_step_with_no_next_completes_at_once(text_in, sms_outbox):
    plan_make(
        goals=[{"slug": "thanked", "name": "Thanked", "points": 7}],
        steps=[send("thanks", "Thanks!", goal="thanked")],
    )
    text_in(PHONE, "hi")
    enrollment = Enrollment.objects.get()
    assert (enrollment.status, enrollment.step_id, enrollment.end_reason) == (
        "completed",
        "thanks",
        "Reached thanks",
    )
    assert Contact.objects.get().engagement_value == 7
    assert bodies(sms_outbox, PHONE) == ["Thanks!"]


def test_an_ask_without_text_starts_its_timeout_on_entry(text_in):
    plan_make(steps=[ask("wait", "", timeout={"after": "PT2H", "next": "done"}), send("done", "Done")])
    with time_machine.travel(datetime(2030, 1, 1, 12, tzinfo=UTC), tick=False):
        text_in(PHONE, "hi")
    assert Enrollment.objects.get().timeout_at == datetime(2030, 1, 1, 14, tzinfo=UTC)


def test_every_reply_pushes_a_running_timeout_on(demo_plan, text_in):
    t0 = datetime(2030, 1, 1, 12, tzinfo=UTC)
    with time_machine.travel(t0, tick=False):
        text_in(PHONE, "hello")
    enrollment = Enrollment.objects.get()
    assert enrollment.timeout_at == t0 + timedelta(hours=24)  # started when the prompt was sent
    with time_machine.travel(t0 + timedelta(hours=5), tick=False):
        text_in(PHONE, "not sure")
    enrollment = Enrollment.objects.get()
    assert enrollment.last_inbound_at == t0 + timedelta(hours=5)
    assert enrollment.timeout_at == t0 + timedelta(hours=29)


def test_entering_a_step_resets_the_other_count_and_the_timer(demo_plan, text_in, sms_outbox):
    text_in(PHONE, "hello")
    text_in(PHONE, "eh")
    assert Enrollment.objects.get().other_count == 1
    text_in(PHONE, "quote")
    enrollment = Enrollment.objects.get()
    assert enrollment.other_count == 0
    assert enrollment.step_id == "quoted"
    assert enrollment.timeout_at is None  # Quoted waits for no timeout
    assert OutboundMessage.objects.filter(purpose="prompt", step_id="quoted").count() == 1


def test_a_text_that_fails_to_render_is_not_sent_but_the_step_is_entered(text_in, sms_outbox):
    from automation.models import PlanRevision

    plan = plan_make(steps=[ask("start", "Hi")])
    # Import refuses such a text; one written to the database by other means fails that message.
    document = plan.published.document
    document["steps"][0]["text"] = "Hi {% if %}"
    PlanRevision.objects.filter(pk=plan.published_id).update(document=document)
    text_in(PHONE, "hi")
    assert Enrollment.objects.get().step_id == "start"
    assert bodies(sms_outbox, PHONE) == []


def test_messages_render_with_the_contact(text_in, sms_outbox):
    ContactFactory(phone=PHONE, first_name="Ada")
    plan_make(
        name="Spring",
        steps=[
            ask(
                "start",
                "Hi {{ contact.first_name }}, welcome to {{ enrollment.plan.name }} "
                "({{ enrollment.revision }}).",
            )
        ],
    )
    text_in(PHONE, "hi")
    assert bodies(sms_outbox, PHONE) == ["Hi Ada, welcome to Spring (1)."]


# --- services called directly by other apps ---------------------------------------------------


def test_enrollment_end_records_the_step_and_refuses_non_ending_statuses():
    plan = keyword_plan(["GO"], name="Go", slug="go")
    enrollment = enrollment_start(contact=ContactFactory(), plan_id=plan.pk, revision_id=plan.published_id)
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
        plan = keyword_plan(["GO"], name="Go", slug="go")
        enrollment_start(
            contact=ContactFactory(opted_out=True), plan_id=plan.pk, revision_id=plan.published_id
        )
    assert not Enrollment.objects.exists()
