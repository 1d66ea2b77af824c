"""Every step kind (docs/reference.md §6), driven as a contact drives it: messages through the
signed webhook, timers through `process_timeouts`, `http` steps in test_http_steps.py.
Also the interpreter's cap and revision pinning."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from automation.engine.plans import plan_import
from automation.models import Enrollment, EnrollmentStep
from automation.tests.factories import ask, plan_make, send, the_enrollment
from conftest import bodies, token_auth
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from messaging.models import OutboundMessage

pytestmark = pytest.mark.django_db

PHONE = "+12125550160"
T0 = datetime(2030, 3, 4, 15, 0, tzinfo=UTC)  # 10:00 in New York


def contact(phone=PHONE) -> Contact:
    return Contact.objects.get(phone=phone)


# --- send ----------------------------------------------------------------------------------


def test_send_texts_with_media_and_goes_on_at_once(text_in, sms_outbox):
    plan_make(
        steps=[
            send("pic", "Look!", "ask", media=["https://example.com/a.png", "https://example.com/b.png"]),
            ask("ask", "Like it?"),
        ]
    )
    text_in(PHONE, "hi")
    assert bodies(sms_outbox, PHONE) == ["Look!", "Like it?"]
    assert sms_outbox[0].media_urls == ("https://example.com/a.png", "https://example.com/b.png")
    assert OutboundMessage.objects.get(purpose="prompt", step_id="pic").interaction.media == [
        {"url": "https://example.com/a.png", "content_type": ""},
        {"url": "https://example.com/b.png", "content_type": ""},
    ]
    assert the_enrollment(PHONE).step_id == "ask"
    assert list(EnrollmentStep.objects.values_list("step_id", "via")) == [("pic", "enroll"), ("ask", "step")]


# --- ask: every match kind, save_as, other, timeout -------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "reply", "field", "saved"),
    [
        ({"match": "number", "min": 1, "max": 5, "save_as": "attributes.score"}, "4!", "attributes.score", 4),
        ({"match": "number", "save_as": "attributes.score"}, "4.5", "attributes.score", 4.5),
        ({"match": "email", "save_as": "email"}, " Ann@Example.COM ", "email", "ann@example.com"),
        ({"match": "phone", "save_as": "attributes.work"}, "(646) 555-0199", "attributes.work", "+16465550199"),
        ({"match": "date", "save_as": "attributes.birthday"}, "7/4/1990", "attributes.birthday", "1990-07-04"),
        ({"match": "any", "save_as": "first_name"}, "  Ann  ", "first_name", "Ann"),
        ({"match": "keyword", "words": ["YES", "YEP"], "save_as": "attributes.answer"}, "yep!", "attributes.answer", "yep!"),
        ({"match": "first_word", "words": ["BOOK"], "save_as": "attributes.ask"}, "book a table", "attributes.ask", "book a table"),
        ({"match": "contains", "words": ["PIZZA"], "save_as": "attributes.food"}, "I want pizza now", "attributes.food", "I want pizza now"),
        ({"match": "regex", "pattern": "^[0-9]{5}$", "save_as": "attributes.zip"}, "10001.", "attributes.zip", "10001."),
        ({"match": "any", "save_as": "timezone"}, "Europe/Oslo", "timezone", "Europe/Oslo"),
    ],
)  # fmt: skip
def test_ask_matches_and_saves_the_parsed_answer(text_in, sms_outbox, rule, reply, field, saved):
    plan_make(steps=[ask("q", "Your answer?", [(rule, "done")]), send("done", "Got it.")])
    text_in(PHONE, "hi")
    text_in(PHONE, reply)
    assert bodies(sms_outbox, PHONE) == ["Your answer?", "Got it."]
    stored = contact()
    value = (
        stored.attributes[field.split(".", 1)[1]]
        if field.startswith("attributes.")
        else getattr(stored, field)
    )
    assert value == saved
    assert type(value) is type(saved)  # a number is saved as a JSON number
    assert the_enrollment(PHONE).status == "completed"


@pytest.mark.parametrize(
    ("rule", "reply"),
    [
        ({"match": "number", "min": 1, "max": 5}, "10"),
        ({"match": "number", "min": 1, "max": 5}, "four"),
        ({"match": "email"}, "ann at example"),
        ({"match": "phone"}, "12"),
        ({"match": "date"}, "someday"),
        ({"match": "regex", "pattern": "^[1-3]$"}, "10"),
        ({"match": "keyword", "words": ["YES"]}, "yes please"),
    ],
)
def test_a_reply_that_does_not_match_moves_nothing_and_saves_nothing(text_in, sms_outbox, rule, reply):
    plan_make(
        steps=[ask("q", "Your answer?", [({**rule, "save_as": "attributes.x"}, "done")]), send("done", "Ok")]
    )
    text_in(PHONE, "hi")
    text_in(PHONE, reply)
    assert the_enrollment(PHONE).step_id == "q"
    assert "x" not in contact().attributes
    assert bodies(sms_outbox, PHONE) == ["Your answer?"]


def test_a_save_that_the_field_refuses_is_skipped_but_the_rule_still_moves(text_in, sms_outbox):
    plan_make(
        steps=[ask("q", "Zone?", [({"match": "any", "save_as": "timezone"}, "done")]), send("done", "Ok")]
    )
    text_in(PHONE, "hi")
    text_in(PHONE, "Mars/Olympus")
    assert (contact().timezone, the_enrollment(PHONE).status) == ("", "completed")


def test_other_answers_up_to_repeat_times_then_stays_silent(text_in, sms_outbox):
    plan_make(steps=[ask("q", "1 or 2?", [("1", "done")], other={"text": "Please reply 1 or 2.", "repeat": 2}), send("done", "Ok")])  # fmt: skip
    text_in(PHONE, "hi")
    for reply in ("what", "huh", "eh", "meh"):
        text_in(PHONE, reply)
    assert bodies(sms_outbox, PHONE) == ["1 or 2?", "Please reply 1 or 2.", "Please reply 1 or 2."]
    assert the_enrollment(PHONE).step_id == "q"


def test_other_with_next_moves_on_once_its_answers_are_used(text_in, sms_outbox):
    plan_make(
        steps=[
            ask(
                "q",
                "1 or 2?",
                [("1", "done")],
                other={"text": "Please reply 1 or 2.", "repeat": 1, "next": "human"},
            ),
            send("human", "A person will text you."),
            send("done", "Ok"),
        ]
    )
    text_in(PHONE, "hi")
    text_in(PHONE, "what")
    text_in(PHONE, "still what")
    assert bodies(sms_outbox, PHONE) == ["1 or 2?", "Please reply 1 or 2.", "A person will text you."]
    assert the_enrollment(PHONE).status == "completed"


def test_ask_timeout_measures_silence_then_goes_on(text_in, sms_outbox, timers):
    plan_make(
        steps=[
            ask("q", "Still there?", [("YES", "done")], timeout={"after": "PT2H", "next": "nudge"}),
            ask("nudge", "Just checking: reply YES.", [("YES", "done")]),
            send("done", "Great."),
        ]
    )
    with time_machine.travel(T0, tick=False):
        text_in(PHONE, "hi")
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        text_in(PHONE, "hmm")  # silence starts again
    assert timers(T0 + timedelta(hours=2, minutes=30)) == 0
    assert timers(T0 + timedelta(hours=3, minutes=1)) == 1
    assert bodies(sms_outbox, PHONE) == ["Still there?", "Just checking: reply YES."]
    assert (the_enrollment(PHONE).step_id, EnrollmentStep.objects.last().via) == ("nudge", "timeout")


# --- splits, set ------------------------------------------------------------------------------


def test_split_random_takes_a_branch_in_proportion_and_keeps_it(text_in, sms_outbox, client, admin_user):
    plan_make(
        steps=[
            {"id": "ab", "type": "split_random", "branches": [
                {"name": "A", "weight": 1, "next": "a"}, {"name": "B", "weight": 3, "next": "b"}]},
            ask("a", "Version A"),
            ask("b", "Version B"),
        ]
    )  # fmt: skip
    phones = [f"+1212555{n:04d}" for n in range(7000, 7080)]
    for phone in phones:
        text_in(phone, "hi")
    taken = [the_enrollment(p).branches["ab"] for p in phones]
    assert {the_enrollment(p).step_id for p in phones if the_enrollment(p).branches["ab"] == "A"} == {"a"}
    # 80 draws at 1:3: A is expected 20 times; this fails by chance about once in a million runs.
    assert 3 <= taken.count("A") <= 45
    step = (
        EnrollmentStep.objects.filter(step_id="a").first()
        or EnrollmentStep.objects.filter(step_id="b").first()
    )
    assert step.via == "step"
    assert EnrollmentStep.objects.filter(step_id="ab", detail__startswith="branch ").count() == 80
    # The contact API shows the branch taken.
    client.force_login(admin_user)

    body = client.get("/api/contacts/", {"phone": phones[0]}, **token_auth(admin_user)).json()
    assert body["results"][0]["enrollments"][0]["branches"] == {"ab": taken[0]}


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [({"tier": "gold", "orders": 12}, "VIP"), ({"tier": "silver", "orders": 3}, "few"), ({"orders": 7}, "many"), ({}, "none")],
)  # fmt: skip
def test_split_field_takes_the_first_case_that_holds(text_in, sms_outbox, attributes, expected):
    ContactFactory(phone=PHONE, attributes=attributes)
    plan_make(
        steps=[
            {"id": "split", "type": "split_field", "field": "attributes.orders", "cases": [
                {"op": "unset", "next": "none"},
                {"op": "ge", "value": 10, "next": "vip"},
                {"op": "lt", "value": 5, "next": "few"}], "default": "many"},
            send("vip", "VIP"), send("few", "few"), send("many", "many"), send("none", "none"),
        ]
    )  # fmt: skip
    text_in(PHONE, "hi")
    assert bodies(sms_outbox, PHONE) == [expected]


def test_set_writes_plain_values_to_the_contact(text_in, sms_outbox):
    ContactFactory(phone=PHONE, attributes={"keep": 1})
    plan_make(
        steps=[
            {
                "id": "tag",
                "type": "set",
                "fields": {"attributes.segment": "spring", "first_name": "Ann"},
                "next": "hi",
            },
            ask("hi", "Hi {{ contact.first_name }} ({{ contact.attributes.segment }})"),
        ]
    )
    text_in(PHONE, "hello")
    assert bodies(sms_outbox, PHONE) == ["Hi Ann (spring)"]
    assert (contact().first_name, contact().attributes) == ("Ann", {"keep": 1, "segment": "spring"})


# --- delay, wait_event ----------------------------------------------------------------------------


def test_delay_for_a_duration_and_until_a_local_time(text_in, sms_outbox, timers):
    ContactFactory(phone=PHONE, timezone="America/New_York")
    plan_make(
        steps=[
            send("hello", "Hello", "later"),
            {"id": "later", "type": "delay", "for": "PT1H", "next": "tomorrow"},
            {"id": "tomorrow", "type": "delay", "until": "09:30", "next": "bye"},
            send("bye", "Good morning"),
        ]
    )
    with time_machine.travel(T0, tick=False):
        text_in(PHONE, "hi")
    assert the_enrollment(PHONE).timeout_at == T0 + timedelta(hours=1)
    assert timers(T0 + timedelta(minutes=59)) == 0
    assert timers(T0 + timedelta(hours=1)) == 1
    # 11:00 in New York now: the next 09:30 there is tomorrow's, 14:30 UTC.
    assert the_enrollment(PHONE).timeout_at == datetime(2030, 3, 5, 14, 30, tzinfo=UTC)
    assert timers(datetime(2030, 3, 5, 14, 30, tzinfo=UTC)) == 1
    assert bodies(sms_outbox, PHONE) == ["Hello", "Good morning"]
    assert the_enrollment(PHONE).status == "completed"


def test_wait_event_waits_and_its_timeout_goes_on(text_in, sms_outbox, timers):
    plan_make(
        steps=[
            {"id": "wait", "type": "wait_event", "event": "purchase", "next": "thanks",
             "timeout": {"after": "P2D", "next": "nudge"}},
            send("thanks", "Thanks for buying"),
            send("nudge", "Still thinking about it?"),
        ]
    )  # fmt: skip
    with time_machine.travel(T0, tick=False):
        text_in(PHONE, "hi")
        text_in(PHONE, "any news?")  # a reply is not the event
    assert the_enrollment(PHONE).step_id == "wait"
    assert timers(T0 + timedelta(days=2)) == 1
    assert bodies(sms_outbox, PHONE) == ["Still thinking about it?"]


# --- enter_plan, the cap ---------------------------------------------------------------------------


def test_enter_plan_completes_this_one_and_starts_the_other(text_in, sms_outbox):
    plan_make(slug="next-plan", entry={"trigger": "none"}, steps=[ask("welcome", "Welcome to the next plan")])
    plan_make(
        slug="first",
        steps=[send("hello", "Hello", "go"), {"id": "go", "type": "enter_plan", "plan": "next-plan"}],
    )
    text_in(PHONE, "hi")
    assert bodies(sms_outbox, PHONE) == ["Hello", "Welcome to the next plan"]
    assert list(Enrollment.objects.order_by("pk").values_list("plan__slug", "status")) == [
        ("first", "completed"),
        ("next-plan", "active"),
    ]


def test_plans_entering_each_other_stop_after_ten(text_in, sms_outbox, caplog):
    plan_make(
        slug="ping", steps=[send("p", "ping", "go"), {"id": "go", "type": "enter_plan", "plan": "pong"}]
    )
    plan_make(slug="pong", entry={"trigger": "none"}, steps=[send("p", "pong", "go"), {"id": "go", "type": "enter_plan", "plan": "ping"}])  # fmt: skip
    with caplog.at_level(logging.ERROR):
        text_in(PHONE, "hi")
    assert Enrollment.objects.count() == 11
    assert "stopped after 10 plans in a row" in caplog.text


def test_a_runaway_event_is_stopped_by_the_step_cap(text_in, sms_outbox, caplog):
    steps = [
        {"id": f"s{i}", "type": "set", "fields": {"attributes.n": i}, "next": f"s{i + 1}"} for i in range(120)
    ]
    steps.append(ask("s120", "Made it"))
    plan_make(steps=steps)
    with caplog.at_level(logging.ERROR):
        text_in(PHONE, "hi")
    enrollment = the_enrollment(PHONE)
    assert (enrollment.status, enrollment.end_reason) == ("failed", "Too many steps on one event")
    assert "ran 100 steps on one event" in caplog.text
    assert bodies(sms_outbox, PHONE) == []


# --- revisions --------------------------------------------------------------------------------------


def test_an_enrollment_stays_on_its_revision_and_new_ones_take_the_latest(text_in, sms_outbox):
    plan = plan_make(
        slug="pinned", steps=[ask("q", "Old question", [("YES", "done")]), send("done", "Old thanks")]
    )
    text_in(PHONE, "hi")
    document = plan.published.document
    document["steps"][0]["text"], document["steps"][1]["text"] = "New question", "New thanks"
    plan_import(document=document)
    text_in("+12125550162", "hi")
    text_in(PHONE, "yes")
    text_in("+12125550162", "yes")
    assert bodies(sms_outbox, PHONE) == ["Old question", "Old thanks"]
    assert bodies(sms_outbox, "+12125550162") == ["New question", "New thanks"]
    assert [e.revision.number for e in Enrollment.objects.order_by("pk")] == [1, 2]


def test_a_step_text_sees_the_enrollment(text_in, sms_outbox):
    plan_make(name="Spring", steps=[ask("q", "{{ enrollment.plan.name }} r{{ enrollment.revision }} at {{ enrollment.state }}", name="Asked")])  # fmt: skip
    text_in(PHONE, "hi")
    assert bodies(sms_outbox, PHONE) == ["Spring r1 at Asked"]
    assert OutboundMessage.objects.get().step_id == "q"
