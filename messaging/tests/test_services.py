"""Outbound sending: queue, send, retry, permanent errors. Twilio faked at the HTTP layer."""

from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses
import time_machine
from django.utils import timezone

from automation.models import Enrollment, EnrollmentStatus
from automation.tasks import outbound_send_task
from automation.tests.factories import EnrollmentFactory
from conftest import bodies, command
from contacts.models import ConsentEvent, Contact
from contacts.tests.factories import ContactFactory
from messaging.models import DeliveryStatus, OutboundMessage
from messaging.services import (
    MAX_ATTEMPTS,
    backoff_seconds,
    outbound_queue,
    outbound_release_due,
    outbound_send,
)
from messaging.services.dispatch import sender_backing_off
from messaging.tests.conftest import created, error, form, messages_url
from messaging.tests.factories import OutboundMessageFactory
from tests.servers import wait_for
from tracking.models import Interaction

pytestmark = pytest.mark.django_db

SID = "SM" + "5" * 32


def queue(contact, body="Hi! Reply QUOTE.", *, purpose="prompt", answers_contact=True, **kwargs):
    return outbound_queue(
        contact=contact, body=body, purpose=purpose, answers_contact=answers_contact, **kwargs
    )


def later(minutes: float):
    return time_machine.travel(timezone.now() + timedelta(minutes=minutes), tick=False)


# --- queue ----------------------------------------------------------------------------


def test_queue_records_interaction_and_message_and_sends_on_commit(
    django_capture_on_commit_callbacks, sms_outbox
):
    contact = ContactFactory(phone="+12125550100")
    enrollment = EnrollmentFactory(contact=contact)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        outbound = queue(contact, enrollment=enrollment, step_id=enrollment.step_id)
    assert sms_outbox == []  # nothing sent before the commit
    assert outbound.status == DeliveryStatus.QUEUED
    assert outbound.to_number == "+12125550100"
    assert outbound.from_number == "+14155550100"
    interaction = outbound.interaction
    assert interaction.direction == Interaction.Direction.OUTBOUND
    assert interaction.enrollment == enrollment
    assert interaction.body == "Hi! Reply QUOTE."
    assert interaction.provider_sid is None

    for callback in callbacks:
        callback()
    outbound.refresh_from_db()
    assert outbound.status == DeliveryStatus.SENT
    assert bodies(sms_outbox) == ["Hi! Reply QUOTE."]
    assert Interaction.objects.get(pk=interaction.pk).provider_sid == sms_outbox[0].sid


def test_nothing_is_queued_for_an_opted_out_contact():
    contact = ContactFactory(opted_out=True)
    assert queue(contact) is None
    assert not OutboundMessage.objects.exists()
    assert not Interaction.objects.exists()


@pytest.mark.parametrize("purpose", ["help", "opt_out_confirmation"])
def test_help_and_opt_out_confirmation_reach_opted_out_contacts(
    purpose, django_capture_on_commit_callbacks, sms_outbox
):
    contact = ContactFactory(opted_out=True)
    with django_capture_on_commit_callbacks(execute=True):
        outbound = queue(contact, "Help text", purpose=purpose)
    outbound.refresh_from_db()
    assert outbound.status == DeliveryStatus.SENT
    assert bodies(sms_outbox) == ["Help text"]


def test_loop_guard_stops_the_same_text_to_one_contact(settings, caplog):
    settings.SMS_LOOP_GUARD_MAX = 3
    settings.SMS_LOOP_GUARD_MINUTES = 10
    contact = ContactFactory()
    assert all(queue(contact, "Sorry?") for _ in range(3))
    assert queue(contact, "Sorry?") is None
    assert "loop guard" in caplog.text
    assert queue(contact, "Something else") is not None  # another text is fine
    assert queue(ContactFactory(), "Sorry?") is not None  # another contact is fine
    with later(11):
        assert queue(contact, "Sorry?") is not None  # the window has passed
    assert OutboundMessage.objects.filter(contact=contact, interaction__body="Sorry?").count() == 4


def test_quiet_hours_hold_messages_that_do_not_answer_the_contact(
    settings, django_capture_on_commit_callbacks, sms_outbox
):
    settings.SMS_QUIET_HOURS = "21:00-08:00"
    contact = ContactFactory(timezone="America/New_York")
    night = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # 23:00 in New York
    with time_machine.travel(night, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            reminder = queue(contact, "Still interested?", purpose="reminder", answers_contact=False)
            answer = queue(contact, "Your quote", purpose="prompt", answers_contact=True)
        assert outbound_release_due() == 0
    reminder.refresh_from_db()
    answer.refresh_from_db()
    assert answer.status == DeliveryStatus.SENT  # answers the contact: not held
    assert reminder.status == DeliveryStatus.HELD
    assert reminder.send_after == datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # 08:00 in New York
    assert bodies(sms_outbox) == ["Your quote"]

    with time_machine.travel(datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC), tick=False):
        assert outbound_release_due() == 1
    reminder.refresh_from_db()
    assert reminder.status == DeliveryStatus.SENT
    assert bodies(sms_outbox) == ["Your quote", "Still interested?"]


def test_test_contacts_always_use_locmem(twilio_api, django_capture_on_commit_callbacks, sms_outbox):
    contact = ContactFactory(is_test=True)
    with django_capture_on_commit_callbacks(execute=True):
        outbound = queue(contact, "Simulated")
    outbound.refresh_from_db()
    assert outbound.status == DeliveryStatus.SENT
    assert bodies(sms_outbox) == ["Simulated"]
    assert len(twilio_api.calls) == 0


# --- send through Twilio -----------------------------------------------------------------


def test_twilio_201_stores_the_sid_and_accepted_not_sent(twilio_api, django_capture_on_commit_callbacks):
    twilio_api.add(responses.POST, messages_url(), **created(sid=SID))
    contact = ContactFactory(phone="+12125550123")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        outbound = queue(contact, "Your quote: 15% off.")
    assert OutboundMessage.objects.get(pk=outbound.pk).status == DeliveryStatus.QUEUED
    for callback in callbacks:
        callback()
    outbound.refresh_from_db()
    assert outbound.status == DeliveryStatus.ACCEPTED
    assert outbound.attempts == 1
    assert outbound.sent_at is not None
    assert outbound.interaction.provider_sid == SID
    sent = form(twilio_api.calls[0])
    assert sent["To"] == "+12125550123"
    assert sent["From"] == "+14155550100"
    assert sent["Body"] == "Your quote: 15% off."
    assert sent["StatusCallback"] == f"https://sms.example.com/twilio/status/?id={outbound.pk}"


def test_twilio_messaging_service_sid_is_used_when_set(twilio_api, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "1" * 32
    twilio_api.add(responses.POST, messages_url(), **created(sid=SID))
    outbound = queue(ContactFactory())
    outbound_send(outbound_id=outbound.pk)
    sent = form(twilio_api.calls[0])
    assert sent["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in sent


def test_no_status_callback_without_a_public_base_url(twilio_api, settings):
    settings.PUBLIC_BASE_URL = ""
    twilio_api.add(responses.POST, messages_url(), **created(sid=SID))
    outbound = queue(ContactFactory())
    outbound_send(outbound_id=outbound.pk)
    assert "StatusCallback" not in form(twilio_api.calls[0])


def test_twilio_at_a_custom_base_url(twilio_api, settings):
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9999/twilio"
    twilio_api.add(responses.POST, messages_url("http://127.0.0.1:9999/twilio"), **created(sid=SID))
    outbound = queue(ContactFactory())
    outbound_send(outbound_id=outbound.pk)
    outbound.refresh_from_db()
    assert outbound.status == DeliveryStatus.ACCEPTED
    assert outbound.interaction.provider_sid == SID


def test_sending_twice_sends_once(twilio_api):
    twilio_api.add(responses.POST, messages_url(), **created(sid=SID))
    outbound = queue(ContactFactory())
    outbound_send(outbound_id=outbound.pk)
    outbound_send(outbound_id=outbound.pk)
    outbound_send_task.apply(args=(outbound.pk,))
    assert len(twilio_api.calls) == 1
    outbound.refresh_from_db()
    assert outbound.status == DeliveryStatus.ACCEPTED
    assert outbound.attempts == 1


def test_opted_out_at_send_time_is_canceled_without_a_call(twilio_api):
    contact = ContactFactory()
    outbound = queue(contact)  # queued while opted in, not sent yet (no commit)
    Contact.objects.filter(pk=contact.pk).update(opted_out=True)
    outbound_send(outbound_id=outbound.pk)
    outbound.refresh_from_db()
    assert outbound.status == DeliveryStatus.CANCELED
    assert len(twilio_api.calls) == 0


@pytest.mark.parametrize(
    "failure",
    [
        error(429, 20429, "Too Many Requests"),
        error(500, 20500, "Internal Server Error"),
        {"body": requests.ConnectionError("connection refused")},
        {"body": requests.ReadTimeout("read timed out")},
    ],
    ids=["429", "500", "connection-error", "timeout"],
)
def test_transient_errors_are_retried_after_a_backoff_then_sent(twilio_api, failure):
    twilio_api.add(responses.POST, messages_url(), **failure)
    twilio_api.add(responses.POST, messages_url(), **created(sid=SID))
    outbound = queue(ContactFactory())

    retry = outbound_send(outbound_id=outbound.pk).retry
    assert 0.5 <= retry.seconds <= 1.0  # a reply to the contact: about a second, with jitter
    assert retry.priority == 0
    outbound.refresh_from_db()
    assert outbound.status == DeliveryStatus.QUEUED
    assert outbound.attempts == 1
    assert timezone.now() < outbound.send_after <= timezone.now() + timedelta(seconds=1)
    assert outbound.error_message

    assert outbound_send(outbound_id=outbound.pk) is None  # a duplicate task before the backoff: not now
    assert len(twilio_api.calls) == 1

    # A 429 also held the whole sender back for a second, on the limiter's own clock (the
    # Redis server's, with a broker: no time travel moves it): wait that out.
    assert wait_for(lambda: not sender_backing_off(sender_id=outbound.sender_id), timeout=5)
    with later(2):  # the release job, after the backoff (and its grace)
        assert outbound_release_due() == 1
    outbound.refresh_from_db()
    assert outbound.status == DeliveryStatus.ACCEPTED
    assert outbound.attempts == 2
    assert outbound.interaction.provider_sid == SID
    assert outbound.error_code == ""
    assert len(twilio_api.calls) == 2


class _Fixed:
    """A random source that always draws `fraction` of the range (the jitter's ends)."""

    def __init__(self, fraction: float) -> None:
        self.fraction = fraction

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.fraction


def test_backoff_starts_at_about_a_second_doubles_with_jitter_and_is_capped_at_5_minutes():
    low, high = _Fixed(0.0), _Fixed(1.0)
    assert [backoff_seconds(n, rng=high) for n in range(1, 7)] == [1, 2, 4, 8, 16, 32]
    assert [backoff_seconds(n, rng=low) for n in range(1, 7)] == [0.5, 1, 2, 4, 8, 16]
    assert backoff_seconds(30, rng=high) == 300 and backoff_seconds(30, rng=low) == 150
    # Plan and bulk messages wait twice as long as replies: replies go first.
    assert backoff_seconds(1, answers_contact=False, rng=high) == 2
    # Twilio's Retry-After is honoured (never sooner), within the cap.
    assert backoff_seconds(1, retry_after=7, rng=high) == 7
    assert backoff_seconds(1, retry_after=3600, rng=high) == 300
    # The whole window before FAILED: minutes, not hours.
    total = sum(backoff_seconds(n, rng=high) for n in range(1, MAX_ATTEMPTS))
    assert 4 * 60 < total < 10 * 60


def test_twilio_s_retry_after_header_sets_the_next_try(twilio_api):
    twilio_api.add(
        responses.POST,
        messages_url(),
        headers={"Retry-After": "12"},
        **error(429, 20429, "Too Many Requests"),
    )
    outbound = queue(ContactFactory())
    retry = outbound_send(outbound_id=outbound.pk).retry
    assert retry.seconds == 12
    outbound.refresh_from_db()
    assert outbound.send_after >= timezone.now() + timedelta(seconds=11)


def test_a_plan_message_is_retried_after_a_reply_and_at_a_lower_priority(twilio_api):
    twilio_api.add(responses.POST, messages_url(), **error(503, 20503, "Service Unavailable"))
    reply = queue(ContactFactory(), "Your quote")
    plan_message = outbound_queue(
        contact=ContactFactory(), body="Spring sale", purpose="bulk", answers_contact=False
    )
    reply_retry = outbound_send(outbound_id=reply.pk).retry
    plan_retry = outbound_send(outbound_id=plan_message.pk).retry
    assert (reply_retry.priority, plan_retry.priority) == (0, 6)
    assert 1.0 <= plan_retry.seconds <= 2.0 and reply_retry.seconds <= 1.0


def test_after_the_cap_of_attempts_the_message_fails_with_the_error_kept(twilio_api):
    twilio_api.add(responses.POST, messages_url(), **error(503, 20503, "Service Unavailable"))
    outbound = queue(ContactFactory())
    outbound_send(outbound_id=outbound.pk)
    for step in range(1, MAX_ATTEMPTS + 3):
        with later(step * 6):  # each backoff is 5 minutes at most
            outbound_release_due()
    outbound.refresh_from_db()
    assert outbound.status == DeliveryStatus.FAILED
    assert outbound.attempts == MAX_ATTEMPTS
    assert outbound.error_code == "20503"
    assert "Service Unavailable" in outbound.error_message
    assert len(twilio_api.calls) == MAX_ATTEMPTS


def test_eager_task_tries_once_and_leaves_the_message_queued(twilio_api):
    twilio_api.add(responses.POST, messages_url(), **error(503, 20503, "Service Unavailable"))
    outbound = queue(ContactFactory())
    outbound_send_task.apply(args=(outbound.pk,))
    assert len(twilio_api.calls) == 1  # no retry loop inside the caller
    outbound.refresh_from_db()
    assert outbound.status == DeliveryStatus.QUEUED
    assert outbound.send_after > timezone.now()


def test_21610_opts_the_contact_out_and_nothing_is_sent_to_them_later(twilio_api):
    twilio_api.add(
        responses.POST, messages_url(), **error(400, 21610, "Attempt to send to unsubscribed recipient")
    )
    contact = ContactFactory()
    enrollment = EnrollmentFactory(contact=contact)
    outbound = queue(contact, enrollment=enrollment)
    other = queue(contact, "A second message")
    outbound_send_task.apply(args=(outbound.pk,))  # the send and what it means for the journey

    outbound.refresh_from_db()
    contact.refresh_from_db()
    enrollment = Enrollment.objects.get(pk=enrollment.pk)  # a protected FSM field: re-read
    assert outbound.status == DeliveryStatus.FAILED
    assert outbound.error_code == "21610"
    assert contact.opted_out
    assert ConsentEvent.objects.filter(contact=contact, source="carrier", detail="21610").exists()
    assert enrollment.status == EnrollmentStatus.OPTED_OUT

    outbound_send(outbound_id=other.pk)
    assert queue(contact, "Later") is None
    assert len(twilio_api.calls) == 1
    assert OutboundMessage.objects.get(pk=other.pk).status == DeliveryStatus.CANCELED


@pytest.mark.parametrize("code", [21211, 21614, 21635])
def test_unreachable_numbers_fail_the_enrollment(twilio_api, code):
    twilio_api.add(responses.POST, messages_url(), **error(400, code, "Not a mobile number"))
    contact = ContactFactory()
    enrollment = EnrollmentFactory(contact=contact)
    outbound = queue(contact, enrollment=enrollment)
    outbound_send_task.apply(args=(outbound.pk,))
    outbound.refresh_from_db()
    enrollment = Enrollment.objects.get(pk=enrollment.pk)  # a protected FSM field: re-read
    contact.refresh_from_db()
    assert outbound.status == DeliveryStatus.FAILED
    assert outbound.error_code == str(code)
    assert enrollment.status == EnrollmentStatus.FAILED
    assert str(code) in enrollment.end_reason
    assert not contact.opted_out


def test_other_permanent_errors_fail_the_message_only(twilio_api):
    twilio_api.add(responses.POST, messages_url(), **error(400, 21606, "From is not a valid number"))
    contact = ContactFactory()
    enrollment = EnrollmentFactory(contact=contact)
    outbound = queue(contact, enrollment=enrollment)
    outbound_send_task.apply(args=(outbound.pk,))
    outbound.refresh_from_db()
    enrollment = Enrollment.objects.get(pk=enrollment.pk)  # a protected FSM field: re-read
    assert outbound.status == DeliveryStatus.FAILED
    assert outbound.error_code == "21606"
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert len(twilio_api.calls) == 1


# --- recovery ---------------------------------------------------------------------------


def test_a_message_lost_by_the_broker_is_sent_by_the_release_job(twilio_api):
    twilio_api.add(responses.POST, messages_url(), **created(sid=SID))
    outbound = queue(ContactFactory())  # committed but its task never ran
    assert outbound_release_due() == 0  # in flight: left alone for a minute
    with later(2):
        assert outbound_release_due() == 1
    outbound.refresh_from_db()
    assert outbound.status == DeliveryStatus.ACCEPTED


def test_a_message_stuck_sending_is_sent_again_after_a_while(twilio_api):
    twilio_api.add(responses.POST, messages_url(), **created(sid=SID))
    outbound = queue(ContactFactory())
    # A worker claimed it and died during the HTTP call.
    OutboundMessage.objects.filter(pk=outbound.pk).update(
        status=DeliveryStatus.SENDING, attempts=1, status_updated_at=timezone.now()
    )
    with later(5):
        assert outbound_release_due() == 0  # it may still be in flight
    with later(11):
        assert outbound_release_due() == 1
    outbound.refresh_from_db()
    assert outbound.status == DeliveryStatus.ACCEPTED
    assert outbound.attempts == 2
    assert len(twilio_api.calls) == 1


def test_a_message_stuck_sending_but_known_to_twilio_is_not_sent_again(twilio_api):
    outbound = queue(ContactFactory())
    OutboundMessage.objects.filter(pk=outbound.pk).update(
        status=DeliveryStatus.SENDING, attempts=1, status_updated_at=timezone.now()
    )
    Interaction.objects.filter(pk=outbound.interaction_id).update(provider_sid=SID)  # a callback told us
    with later(30):
        assert outbound_release_due() == 0
    assert len(twilio_api.calls) == 0


def test_send_due_messages_command_runs_the_release_job(twilio_api):
    from io import StringIO

    from django.core.management import call_command

    twilio_api.add(responses.POST, messages_url(), **created(sid=SID))
    outbound = queue(ContactFactory())
    with later(2):
        out = StringIO()
        call_command("send_due_messages", stdout=out)
    assert out.getvalue().strip() == "Sent 1 message."  # no broker: cron's run sends them itself
    outbound.refresh_from_db()
    assert outbound.status == DeliveryStatus.ACCEPTED


def test_from_cron_without_a_broker_a_paced_sender_s_texts_go_at_its_pace(sms_outbox):
    """`send_due_messages` from cron (no broker, no in-process jobs): the run keeps sending
    each sender's due texts at its limit for up to `--for` seconds, not one a minute."""
    from messaging.senders import sender_save

    sender_save(address="+14155550100", mps=20)  # the default number
    for n in range(10):  # queued while the process that made them could not send them
        OutboundMessageFactory(
            contact=ContactFactory(), interaction__body=f"Offer {n}", purpose=OutboundMessage.Purpose.BULK
        )
    out, _ = command("send_due_messages", "--for", "10")
    assert out.strip() == "Sent 10 messages."
    assert sorted(bodies(sms_outbox)) == sorted(f"Offer {n}" for n in range(10))
    sent_at = sorted(OutboundMessage.objects.values_list("sent_at", flat=True))
    assert (sent_at[-1] - sent_at[0]).total_seconds() >= 9 / 20  # paced: not all at once


def test_a_message_stuck_sending_past_the_cap_fails(twilio_api):
    outbound = queue(ContactFactory())
    OutboundMessage.objects.filter(pk=outbound.pk).update(
        status=DeliveryStatus.SENDING, attempts=MAX_ATTEMPTS, status_updated_at=timezone.now()
    )
    with later(11):
        assert outbound_release_due() == 0
    outbound.refresh_from_db()
    assert outbound.status == DeliveryStatus.FAILED
    assert outbound.error_message
    assert len(twilio_api.calls) == 0


def test_a_status_callback_during_a_failed_call_wins(twilio_api):
    """Twilio accepted the message but our call timed out; its callback (matched by our id)
    arrived first: the message is not sent again."""
    from messaging.services import delivery_status_apply

    outbound = queue(ContactFactory())

    def accepted_then_timeout(request):
        delivery_status_apply(sid=SID, status="sent", outbound_id=outbound.pk)
        raise requests.ReadTimeout("read timed out")

    twilio_api.add_callback(responses.POST, messages_url(), callback=accepted_then_timeout)
    assert outbound_send(outbound_id=outbound.pk) is None  # nothing to retry
    with later(30):
        assert outbound_release_due() == 0
    outbound.refresh_from_db()
    assert outbound.status == DeliveryStatus.SENT
    assert outbound.interaction.provider_sid == SID
    assert len(twilio_api.calls) == 1


def test_the_release_job_sends_replies_before_plan_and_bulk_messages(sms_outbox):
    now = timezone.now()
    older_bulk = outbound_queue(
        contact=ContactFactory(), body="Spring sale", purpose="bulk", answers_contact=False
    )
    reply = queue(ContactFactory(), "Your quote")
    # Both lost their task and waited out a retry: the bulk one has waited longer.
    OutboundMessage.objects.filter(pk=older_bulk.pk).update(send_after=now - timedelta(minutes=5))
    OutboundMessage.objects.filter(pk=reply.pk).update(send_after=now - timedelta(minutes=2))
    assert outbound_release_due() == 2
    assert bodies(sms_outbox) == ["Your quote", "Spring sale"]
