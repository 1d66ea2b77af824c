"""Expiry and reply timeouts (automation.engine.scheduling), with frozen time.

Journeys are driven through the signed webhook (the `twilio` fixture) so the prompt is
really sent (locmem backend) and its "accepted by Twilio" time starts the reply timeout.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from automation.engine import (
    enrollment_expire_due,
    enrollment_prompt_sent,
    enrollment_timeouts_fire,
)
from automation.models import Enrollment, EnrollmentStep
from automation.tests.factories import EnrollmentFactory, ask, plan_make, send, the_enrollment
from conftest import bodies
from contacts.models import Contact
from messaging.models import DeliveryStatus, OutboundMessage
from messaging.tests.factories import OutboundMessageFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)
PHONE = "+12125550177"
PROMPT = "Reply YES for the deal."
NUDGE = "Still there? Reply YES."


@pytest.fixture
def plan():
    """Ask → (24 h of silence) → Nudge (no further timeout); YES in either → Done."""
    return plan_make(
        slug="timeouts",
        steps=[
            ask(
                "ask",
                PROMPT,
                [("YES", "done")],
                name="Ask",
                other={"text": "Sorry? Reply YES."},
                timeout={"after": "PT24H", "next": "nudge"},
            ),
            ask("nudge", NUDGE, [("YES", "done")], name="Nudge"),
            send("done", "", name="Done"),
        ],
    )


# --- reply timeouts ------------------------------------------------------------------


def test_timeout_starts_when_the_prompt_is_accepted(plan, text_in, sms_outbox):
    with time_machine.travel(T0, tick=False):
        text_in(PHONE, "hello")
    e = the_enrollment(PHONE)
    assert bodies(sms_outbox, PHONE) == [PROMPT]
    assert e.step_id == "ask"
    assert e.prompt_sent_at == T0
    assert e.timeout_at == T0 + timedelta(hours=24)


def test_timeout_fires_after_24_hours_of_silence_once(plan, text_in, timers, sms_outbox):
    with time_machine.travel(T0, tick=False) as clock:
        text_in(PHONE, "hello")
        clock.shift(timedelta(hours=24) - timedelta(seconds=1))
        assert timers() == 0
        assert the_enrollment(PHONE).step_id == "ask"

        clock.shift(timedelta(seconds=1))
        assert timers() == 1
        e = the_enrollment(PHONE)
        assert e.step_id == "nudge"
        assert bodies(sms_outbox, PHONE) == [PROMPT, NUDGE]
        step = EnrollmentStep.objects.filter(enrollment=e).last()
        assert (step.via, step.step_id, step.occurred_at) == ("timeout", "nudge", T0 + timedelta(hours=24))
        # Nudge has no timeout of its own: nothing more fires, ever.
        assert e.timeout_at is None

        clock.shift(timedelta(days=3))
        assert timers() == 0
    assert bodies(sms_outbox, PHONE) == [PROMPT, NUDGE]
    assert the_enrollment(PHONE).status == "active"


def test_a_reply_in_between_pushes_the_timeout(plan, text_in, timers, sms_outbox):
    with time_machine.travel(T0, tick=False) as clock:
        text_in(PHONE, "hello")
        clock.shift(timedelta(hours=20))
        text_in(PHONE, "hmm, what deal?")  # no transition: the fallback answers, silence restarts
        assert the_enrollment(PHONE).timeout_at == T0 + timedelta(hours=44)

        clock.shift(timedelta(hours=4))  # 24 h after the prompt, 4 h after the reply
        assert timers() == 0
        assert the_enrollment(PHONE).step_id == "ask"

        clock.shift(timedelta(hours=20))  # 24 h after the reply
        assert timers() == 1
    assert the_enrollment(PHONE).step_id == "nudge"
    assert bodies(sms_outbox, PHONE)[-1] == NUDGE


def test_a_reply_before_the_prompt_was_accepted_counts_too(plan):
    """The later of prompt accepted and last inbound: a prompt accepted late starts from then,
    a message from the contact after the prompt started waiting pushes it."""
    e = EnrollmentFactory(plan=plan, step_id="ask", enrolled_at=T0, last_inbound_at=T0 + timedelta(hours=2))
    outbound = OutboundMessageFactory(
        contact=e.contact, enrollment=e, step_id="ask", interaction__body=PROMPT, interaction__created_at=T0
    )
    enrollment_prompt_sent(outbound_id=outbound.pk, sent_at=T0 + timedelta(hours=1))
    e = Enrollment.objects.get(pk=e.pk)
    assert e.prompt_sent_at == T0 + timedelta(hours=1)
    assert e.timeout_at == T0 + timedelta(hours=26)  # from the later inbound


def test_prompt_sent_for_a_step_left_already_starts_nothing(plan):
    e = EnrollmentFactory(plan=plan, step_id="nudge", enrolled_at=T0)
    outbound = OutboundMessageFactory(
        contact=e.contact, enrollment=e, step_id="ask", interaction__body=PROMPT, interaction__created_at=T0
    )
    enrollment_prompt_sent(outbound_id=outbound.pk, sent_at=T0)
    e = Enrollment.objects.get(pk=e.pk)
    assert (e.prompt_sent_at, e.timeout_at) == (None, None)


def test_stale_timeout_never_fires_after_the_enrollment_moved_on(plan, text_in, timers, sms_outbox):
    with time_machine.travel(T0, tick=False) as clock:
        text_in(PHONE, "hello")
        due_at = the_enrollment(PHONE).timeout_at
        clock.shift(timedelta(hours=2))
        text_in(PHONE, "yes")
        assert the_enrollment(PHONE).status == "completed"
        # Even if a stale timeout_at were left behind, it would not fire from the old state.
        Enrollment.objects.filter(contact__phone=PHONE).update(timeout_at=due_at)
        clock.shift(timedelta(days=2))
        assert timers() == 0
    assert the_enrollment(PHONE).step_id == "done"
    assert NUDGE not in bodies(sms_outbox, PHONE)


def test_stale_timeout_from_a_previous_state_does_not_fire(plan):
    """The job read the candidate in Ask, but by the time it locks the row it is elsewhere."""
    e = EnrollmentFactory(plan=plan, step_id="nudge", enrolled_at=T0, timeout_at=T0)
    from automation.engine.scheduling import _timeout_fire_one

    assert not _timeout_fire_one(
        enrollment_id=e.pk, contact_id=e.contact_id, step_id="ask", now=T0 + timedelta(hours=1)
    )
    assert Enrollment.objects.get(pk=e.pk).step_id == "nudge"
    assert not EnrollmentStep.objects.filter(enrollment=e).exists()


def test_a_timer_at_a_step_that_has_none_is_cleared(plan, timers):
    e = EnrollmentFactory(plan=plan, step_id="nudge", enrolled_at=T0, timeout_at=T0 + timedelta(hours=1))
    assert timers(T0 + timedelta(hours=2)) == 0
    e = Enrollment.objects.get(pk=e.pk)
    assert (e.step_id, e.timeout_at, e.status) == ("nudge", None, "active")


def test_timeouts_dry_run_and_batches(plan, timers, django_capture_on_commit_callbacks):
    due = [
        EnrollmentFactory(plan=plan, step_id="ask", enrolled_at=T0, timeout_at=T0 + timedelta(hours=i))
        for i in range(5)
    ]
    later = EnrollmentFactory(plan=plan, step_id="ask", enrolled_at=T0, timeout_at=T0 + timedelta(days=9))
    now = T0 + timedelta(days=1)
    assert enrollment_timeouts_fire(now=now, dry_run=True) == 5
    assert {Enrollment.objects.get(pk=e.pk).step_id for e in due} == {"ask"}

    progress = []
    with django_capture_on_commit_callbacks(execute=True):
        assert enrollment_timeouts_fire(now=now, batch_size=2, progress=progress.append) == 5
    assert progress == [2, 4, 5]
    assert {Enrollment.objects.get(pk=e.pk).step_id for e in due} == {"nudge"}
    assert Enrollment.objects.get(pk=later.pk).step_id == "ask"
    assert timers(now) == 0  # idempotent


def test_quiet_hours_hold_the_reminder_but_not_the_answer(plan, text_in, timers, sms_outbox, settings):
    settings.SMS_QUIET_HOURS = "21:00-08:00"
    # 23:30 in New York (the number's zone): the contact texts; the answer goes at once.
    night = datetime(2026, 6, 2, 3, 30, tzinfo=UTC)
    with time_machine.travel(night, tick=False) as clock:
        text_in(PHONE, "hello")
        assert bodies(sms_outbox, PHONE) == [PROMPT]
        clock.shift(timedelta(hours=24))
        assert timers() == 1
    reminder = OutboundMessage.objects.get(contact__phone=PHONE, interaction__body=NUDGE)
    assert reminder.status == DeliveryStatus.HELD
    assert reminder.answers_contact is False
    assert reminder.send_after == datetime(2026, 6, 3, 12, 0, tzinfo=UTC)  # 08:00 EDT
    assert bodies(sms_outbox, PHONE) == [PROMPT]


# --- expiry --------------------------------------------------------------------------


def test_expiry_records_the_step_and_ends_the_enrollment(plan):
    e = EnrollmentFactory(plan=plan, step_id="ask", enrolled_at=T0 - timedelta(days=7), timeout_at=T0)
    assert enrollment_expire_due(now=T0) == 1
    e = Enrollment.objects.get(pk=e.pk)
    assert (e.status, e.ended_at, e.timeout_at, e.end_reason) == ("expired", T0, None, "expired")
    step = EnrollmentStep.objects.get(enrollment=e)
    assert (step.via, step.step_id, step.occurred_at) == ("expiry", "ask", T0)


def test_expiry_spares_the_active_not_due_and_the_ended():
    due = EnrollmentFactory(enrolled_at=T0 - timedelta(days=8))
    fresh = EnrollmentFactory(enrolled_at=T0 - timedelta(days=6))
    done = EnrollmentFactory(enrolled_at=T0 - timedelta(days=8))
    Enrollment.objects.filter(pk=done.pk).update(status="completed", ended_at=T0 - timedelta(days=7))
    assert enrollment_expire_due(now=T0, dry_run=True) == 1
    assert enrollment_expire_due(now=T0) == 1
    assert [Enrollment.objects.get(pk=x.pk).status for x in (due, fresh, done)] == [
        "expired",
        "active",
        "completed",
    ]
    assert enrollment_expire_due(now=T0) == 0


def test_expiry_text_is_queued_for_plans_that_have_one(
    settings, django_capture_on_commit_callbacks, sms_outbox
):
    with_text = plan_make(expiry_text="Your offer has ended, {{ contact.first_name }}.")
    e1 = EnrollmentFactory(plan=with_text, enrolled_at=T0 - timedelta(days=8), contact__first_name="Ann")
    e2 = EnrollmentFactory(enrolled_at=T0 - timedelta(days=8))  # its plan has no expiry text
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert enrollment_expire_due(now=T0) == 2
    message = OutboundMessage.objects.get()
    assert (message.enrollment_id, message.purpose, message.answers_contact) == (e1.pk, "expiry", False)
    assert bodies(sms_outbox) == ["Your offer has ended, Ann."]
    assert not OutboundMessage.objects.filter(enrollment=e2).exists()


def test_expiry_cancels_reminders_held_for_quiet_hours(plan, text_in, timers, settings):
    settings.SMS_QUIET_HOURS = "21:00-08:00"
    night = datetime(2026, 6, 2, 3, 30, tzinfo=UTC)  # 23:30 in New York
    with time_machine.travel(night, tick=False) as clock:
        text_in(PHONE, "hello")
        clock.shift(timedelta(hours=24))
        timers()
        reminder = OutboundMessage.objects.get(interaction__body=NUDGE)
        assert reminder.status == DeliveryStatus.HELD
        assert enrollment_expire_due(now=the_enrollment(PHONE).expires_at) == 1
    assert OutboundMessage.objects.get(pk=reminder.pk).status == DeliveryStatus.CANCELED


def test_expiry_in_batches_reports_progress():
    due = [EnrollmentFactory(enrolled_at=T0 - timedelta(days=8, minutes=i)) for i in range(5)]
    progress = []
    assert enrollment_expire_due(now=T0, batch_size=2, progress=progress.append) == 5
    assert progress == [2, 4, 5]
    assert {Enrollment.objects.get(pk=e.pk).status for e in due} == {"expired"}
    assert EnrollmentStep.objects.filter(via="expiry").count() == 5


@pytest.mark.parametrize("count", [1, 40])
def test_expiry_query_count_does_not_grow_with_the_batch(count, django_assert_max_num_queries):
    for _ in range(count):
        EnrollmentFactory(enrolled_at=T0 - timedelta(days=8))
    # One batch: savepoint, select for update, plan texts, update, cancel held, insert steps, release.
    with django_assert_max_num_queries(7):
        assert enrollment_expire_due(now=T0) == count


def test_a_contact_who_enrolled_again_after_expiry(plan, text_in, sms_outbox):
    with time_machine.travel(T0, tick=False) as clock:
        text_in(PHONE, "hello")
        clock.shift(timedelta(days=7))
        assert enrollment_expire_due() == 1
        text_in(PHONE, "hello again")
    contact = Contact.objects.get(phone=PHONE)
    assert list(contact.enrollments.order_by("id").values_list("status", flat=True)) == ["expired", "active"]
    assert bodies(sms_outbox, PHONE) == [PROMPT, PROMPT]
