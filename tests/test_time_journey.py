"""The seed journey in time (docs/reference.md §4): 24 h of silence after the invitation → one
reminder (held for quiet hours, released at 08:00 local), then expiry 7 days after enrolling.
Driven through the real doors: the signed webhook, the beat tasks, the commands."""

from datetime import UTC, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from automation.models import EnrollmentStep
from automation.tasks import enrollment_expire_due_task, enrollment_timeouts_fire_task
from automation.tests.factories import the_enrollment
from conftest import INVITE, REMIND, bodies
from messaging.models import DeliveryStatus, OutboundMessage
from messaging.services import outbound_release_due

pytestmark = pytest.mark.django_db

PHONE = "+12125550199"  # New York: the number implies America/New_York
NY = ZoneInfo("America/New_York")


@pytest.fixture
def beat(django_capture_on_commit_callbacks):
    """Run one beat task the way the worker would (the sends it queues run on commit)."""

    def run(task):
        with django_capture_on_commit_callbacks(execute=True):
            return task.apply().get()

    return run


def test_reminder_after_24_hours_of_silence_then_expiry(demo_plan, text_in, beat, sms_outbox):
    t0 = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)  # 11:00 in New York
    with time_machine.travel(t0, tick=False) as clock:
        text_in(PHONE, "hi")
        assert bodies(sms_outbox, PHONE) == [INVITE]

        clock.shift(timedelta(hours=23, minutes=59))
        assert beat(enrollment_timeouts_fire_task) == {"fired": 0}

        clock.shift(timedelta(minutes=1))
        assert beat(enrollment_timeouts_fire_task) == {"fired": 1}
        assert the_enrollment(PHONE).step_id == "reminded"
        assert bodies(sms_outbox, PHONE) == [INVITE, REMIND]

        # One reminder only: Reminded has no timeout of its own.
        for _ in range(3):
            clock.shift(timedelta(days=1))
            assert beat(enrollment_timeouts_fire_task) == {"fired": 0}
        assert bodies(sms_outbox, PHONE) == [INVITE, REMIND]

        clock.move_to(t0 + timedelta(days=7) - timedelta(seconds=1))
        assert beat(enrollment_expire_due_task) == {"expired": 0}
        clock.move_to(t0 + timedelta(days=7))
        assert beat(enrollment_expire_due_task) == {"expired": 1}
    e = the_enrollment(PHONE)
    assert e.status == "expired"
    assert list(EnrollmentStep.objects.filter(enrollment=e).values_list("via", "step_id")) == [
        ("enroll", "invited"),
        ("timeout", "reminded"),
        ("expiry", "reminded"),
    ]


def test_a_reply_before_the_timeout_means_no_reminder(demo_plan, text_in, beat, sms_outbox):
    t0 = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)
    with time_machine.travel(t0, tick=False) as clock:
        text_in(PHONE, "hi")
        clock.shift(timedelta(hours=23))
        text_in(PHONE, "quote")
        clock.shift(timedelta(days=2))
        assert beat(enrollment_timeouts_fire_task) == {"fired": 0}
    assert the_enrollment(PHONE).step_id == "quoted"
    assert REMIND not in bodies(sms_outbox, PHONE)


def test_an_unmatched_reply_restarts_the_24_hours(demo_plan, text_in, beat, sms_outbox):
    t0 = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)
    with time_machine.travel(t0, tick=False) as clock:
        text_in(PHONE, "hi")
        clock.shift(timedelta(hours=12))
        text_in(PHONE, "what is this?")  # the fallback answers; silence starts again
        clock.shift(timedelta(hours=13))  # 25 h after the invite, 13 h after the reply
        assert beat(enrollment_timeouts_fire_task) == {"fired": 0}
        clock.shift(timedelta(hours=11))  # 24 h after the reply
        assert beat(enrollment_timeouts_fire_task) == {"fired": 1}
    assert bodies(sms_outbox, PHONE)[-1] == REMIND


def test_reminder_due_at_3am_local_waits_until_8am_across_dst(demo_plan, text_in, sms_outbox, settings):
    """The contact texts at 03:00 on Saturday 7 March 2026 (EST); its answer goes at once. 24 h
    later it is 04:00 EDT (clocks sprang forward that night): the reminder is held, and the
    release job sends it at 08:00 EDT, not earlier."""
    settings.SMS_QUIET_HOURS = "21:00-08:00"
    texted = datetime(2026, 3, 7, 3, 0, tzinfo=NY)
    with time_machine.travel(texted, tick=False) as clock:
        text_in(PHONE, "hi")
        assert bodies(sms_outbox, PHONE) == [INVITE]  # an answer to the contact: no quiet hours

        clock.shift(timedelta(hours=24))
        out = StringIO()
        call_command("process_timeouts", stdout=out)
        assert "Fired 1 timeout" in out.getvalue()
        reminder = OutboundMessage.objects.get(interaction__body=REMIND)
        assert reminder.status == DeliveryStatus.HELD
        assert reminder.send_after == datetime(2026, 3, 8, 8, 0, tzinfo=NY)
        assert reminder.send_after == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
        assert bodies(sms_outbox, PHONE) == [INVITE]

        clock.move_to(datetime(2026, 3, 8, 7, 59, tzinfo=NY))
        outbound_release_due()
        assert bodies(sms_outbox, PHONE) == [INVITE]

        clock.move_to(datetime(2026, 3, 8, 8, 0, tzinfo=NY))
        outbound_release_due()
    assert bodies(sms_outbox, PHONE) == [INVITE, REMIND]
    reminder = OutboundMessage.objects.get(pk=reminder.pk)
    assert reminder.status == DeliveryStatus.SENT
    assert reminder.sent_at == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


def test_reminder_held_across_midnight_in_the_contacts_own_zone(demo_plan, text_in, sms_outbox, settings):
    """The contact's own timezone wins over the one its number implies."""
    from contacts.models import Contact

    settings.SMS_QUIET_HOURS = "21:00-08:00"
    t0 = datetime(2026, 6, 1, 22, 30, tzinfo=UTC)  # 18:30 in New York, 23:30 in London
    with time_machine.travel(t0, tick=False) as clock:
        text_in(PHONE, "hi")
        Contact.objects.filter(phone=PHONE).update(timezone="Europe/London")
        clock.shift(timedelta(hours=24))
        call_command("process_timeouts", stdout=StringIO())
    reminder = OutboundMessage.objects.get(interaction__body=REMIND)
    assert reminder.status == DeliveryStatus.HELD
    assert reminder.send_after == datetime(2026, 6, 3, 8, 0, tzinfo=ZoneInfo("Europe/London"))
