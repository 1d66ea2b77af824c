"""The frequency cap (docs/reference.md §2 SMS_FREQUENCY_CAP): at most N messages that do not answer
the contact per rolling window, across all plans; extra ones deferred, never dropped, never
sent twice; replies to the contact are never capped; the timeline says why one waits."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from automation.tests.factories import ask, plan_make
from conftest import bodies
from contacts.tests.factories import ContactFactory
from messaging.frequency import frequency_cap_parse, frequency_cap_release_at
from messaging.models import DeliveryStatus, OutboundMessage
from messaging.services import outbound_release_due

T0 = datetime(2030, 5, 6, 15, 0, tzinfo=UTC)  # 11:00 in New York: no quiet hours
PHONE = "+12125550123"


def test_the_cap_is_read_or_refused_in_words():
    cap = frequency_cap_parse("3/1d")
    assert (cap.most, cap.window, str(cap)) == (3, timedelta(days=1), "at most 3 in 1 day")
    assert frequency_cap_parse("") is None
    assert str(frequency_cap_parse(" 1 / 12h ")) == "at most 1 in 12 hours"
    for bad in ("3", "3/day", "0/1d", "3/0d", "-1/1d"):
        with pytest.raises(ValueError, match="is not a frequency cap"):
            frequency_cap_parse(bad)


def test_a_new_message_waits_for_the_window_and_after_those_planned():
    cap = frequency_cap_parse("2/1d")
    now = T0
    assert frequency_cap_release_at(now=now, planned=[now - timedelta(hours=3)], cap=cap) is None
    two = [now - timedelta(hours=20), now - timedelta(hours=3)]
    assert frequency_cap_release_at(now=now, planned=two, cap=cap) == now + timedelta(hours=4)
    later = [now - timedelta(hours=3), now + timedelta(hours=30)]  # one planned tomorrow
    assert frequency_cap_release_at(now=now, planned=later, cap=cap) == now + timedelta(hours=30)


@pytest.mark.django_db
def test_bulk_texts_beyond_the_cap_are_deferred_then_sent_once(
    settings, sms_outbox, django_capture_on_commit_callbacks
):
    from automation.engine.bulk import bulk_enrollment_batch_run
    from automation.models import BulkEnrollmentJob

    settings.SMS_FREQUENCY_CAP = "2/1d"
    contact = ContactFactory(phone=PHONE, consent_at=T0 - timedelta(days=30), timezone="America/New_York")
    plans = [plan_make(steps=[ask("hi", f"Offer {n}")]) for n in range(3)]
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        for plan in plans:
            job = BulkEnrollmentJob.objects.create(plan=plan, total=1)
            bulk_enrollment_batch_run(job_id=job.pk, contact_ids=[contact.pk])
    assert bodies(sms_outbox) == ["Offer 0", "Offer 1"]
    held = OutboundMessage.objects.get(status=DeliveryStatus.HELD)
    assert held.interaction.body == "Offer 2"
    assert held.send_after == T0 + timedelta(days=1)
    assert held.hold_reason == "frequency cap: at most 2 in 1 day"

    release = django_capture_on_commit_callbacks
    with time_machine.travel(T0 + timedelta(hours=23), tick=False), release(execute=True):
        outbound_release_due()  # not due yet: nothing more goes
    assert bodies(sms_outbox) == ["Offer 0", "Offer 1"]
    with time_machine.travel(T0 + timedelta(days=1, minutes=1), tick=False), release(execute=True):
        outbound_release_due()
        outbound_release_due()  # run twice: sent once
    assert bodies(sms_outbox) == ["Offer 0", "Offer 1", "Offer 2"]


@pytest.mark.django_db
def test_replies_to_the_contact_are_never_capped(settings, text_in, sms_outbox):
    settings.SMS_FREQUENCY_CAP = "1/1d"
    other = {"text": "A number, please.", "repeat": 5}
    rating = ask("q", "Rate us 1-5", [({"match": "number"}, "thanks")], other=other)
    plan_make(steps=[rating, ask("thanks", "Thanks!")])
    with time_machine.travel(T0, tick=False):
        for body in ("hi", "what?", "huh", "3"):
            text_in(PHONE, body)
    expected = ["Rate us 1-5", "A number, please.", "A number, please.", "Thanks!"]
    assert bodies(sms_outbox) == expected


@pytest.mark.django_db
def test_the_timeline_says_why_a_message_waits(settings, admin_client, django_capture_on_commit_callbacks):
    from automation.engine.bulk import bulk_enrollment_batch_run
    from automation.models import BulkEnrollmentJob

    settings.SMS_FREQUENCY_CAP = "1/1d"
    contact = ContactFactory(phone=PHONE, consent_at=T0, timezone="America/New_York")
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        for n in range(2):
            plan = plan_make(steps=[ask("hi", f"Offer {n}")])
            job = BulkEnrollmentJob.objects.create(plan=plan, total=1)
            bulk_enrollment_batch_run(job_id=job.pk, contact_ids=[contact.pk])
    page = admin_client.get(f"/admin/contacts/contact/{contact.pk}/change/").content.decode()
    assert "held until" in page and "frequency cap: at most 1 in 1 day" in page
