"""Concurrent messages on PostgreSQL: real threads, each with its own connection, through
the signed webhook. Replies serialize on the contact row: one transition per message, never
from a stale state (docs/reference.md §3)."""

import threading

import pytest
from django.db import transaction
from django.test import Client

from automation.models import Enrollment, EnrollmentStep
from automation.tests.conftest import codes
from conftest import QUOTED, TwilioClient, api_user, bodies, inbound_payload, token_auth
from contacts.models import Contact
from messaging.models import OutboundMessage
from tests.threads import all_at_once, hold_row, started, wait_for_lock_waits
from tracking.models import GoalConversion, Interaction

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PHONE = "+12125550123"


def post_all_at_once(payloads: list[dict]) -> list[int]:
    """POST every payload from its own thread (and DB connection), released together."""
    waiting = iter(payloads)  # each thread takes the next one (atomic under the GIL)
    return all_at_once(
        lambda: TwilioClient(Client()).post("/twilio/sms/", next(waiting)).status_code, n=len(payloads)
    )


def test_simultaneous_replies_make_exactly_one_transition(demo_plan, twilio, sms_outbox):
    assert twilio.post("/twilio/sms/", inbound_payload(PHONE, "hello")).status_code == 200
    enrollment = Enrollment.objects.get(contact__phone=PHONE)
    assert enrollment.step_id == "invited"

    statuses = post_all_at_once([inbound_payload(PHONE, "QUOTE") for _ in range(12)])

    assert statuses == [200] * 12
    enrollment = Enrollment.objects.get(pk=enrollment.pk)
    assert enrollment.step_id == "quoted"
    assert EnrollmentStep.objects.filter(enrollment=enrollment, via="reply").count() == 1
    assert GoalConversion.objects.filter(contact__phone=PHONE).count() == 1
    assert Contact.objects.get(phone=PHONE).engagement_value == 10
    prompts = OutboundMessage.objects.filter(contact__phone=PHONE, purpose="prompt", step_id="quoted")
    assert prompts.count() == 1
    assert bodies(sms_outbox).count(QUOTED) == 1
    # The other eleven were judged in Quoted, where QUOTE means nothing: one fallback.
    assert OutboundMessage.objects.filter(contact__phone=PHONE, purpose="fallback").count() == 1
    assert Interaction.objects.filter(contact__phone=PHONE, direction="inbound").count() == 13


def test_simultaneous_first_messages_make_one_contact_and_one_enrollment(demo_plan, sms_outbox):
    statuses = post_all_at_once([inbound_payload(PHONE, f"hi {i}") for i in range(8)])

    assert statuses == [200] * 8
    assert Contact.objects.filter(phone=PHONE).count() == 1
    assert Enrollment.objects.filter(contact__phone=PHONE).count() == 1
    assert Interaction.objects.filter(contact__phone=PHONE, direction="inbound").count() == 8
    assert OutboundMessage.objects.filter(contact__phone=PHONE, purpose="prompt").count() == 1
    assert Contact.objects.get(phone=PHONE).last_inbound_at is not None


def test_simultaneous_redeliveries_are_stored_once(demo_plan):
    payload = inbound_payload(PHONE, "hello", MessageSid="SM" + "ab" * 16)

    statuses = post_all_at_once([dict(payload) for _ in range(6)])

    assert statuses == [200] * 6
    assert Interaction.objects.filter(provider_sid="SM" + "ab" * 16).count() == 1
    assert Enrollment.objects.count() == 1
    assert OutboundMessage.objects.filter(purpose="prompt").count() == 1


def test_a_stored_message_routed_by_many_workers_at_once_is_routed_once(demo_plan, settings, sms_outbox):
    """With a broker the webhook only stores the message; a redelivered task, a second
    worker and the sweeper may all try to route it at the same moment: one routes it."""
    from automation.engine.inbound import inbound_message_route

    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens: the task is never delivered
    assert TwilioClient(Client()).post("/twilio/sms/", inbound_payload(PHONE, "hello")).status_code == 200
    stored = Interaction.objects.get(contact__phone=PHONE, direction="inbound")
    assert stored.routed_at is None

    results = all_at_once(lambda: inbound_message_route(interaction_id=stored.pk))
    assert sum(r is not None for r in results) == 1 and len(results) == 8
    assert Enrollment.objects.filter(contact__phone=PHONE).count() == 1
    assert OutboundMessage.objects.filter(contact__phone=PHONE).count() == 1


def test_a_contact_s_second_message_waits_while_the_first_is_being_routed(demo_plan, settings, sms_outbox):
    """Two workers, two messages of one contact: the first one's routing is held inside its
    transaction (the test holds a row it needs); the second worker waits for it — on the
    contact's row — and judges its message after the first, in the state the first left."""
    from automation.tasks import inbound_route_task

    twilio = TwilioClient(Client())
    assert twilio.post("/twilio/sms/", inbound_payload(PHONE, "hello")).status_code == 200  # Invited
    enrollment = Enrollment.objects.get(contact__phone=PHONE)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # stored only: the test plays the workers
    for body in ("QUOTE", "BUY"):
        assert twilio.post("/twilio/sms/", inbound_payload(PHONE, body)).status_code == 200
    first, second = Interaction.objects.filter(
        contact__phone=PHONE, direction="inbound", routed_at__isnull=True
    ).order_by("pk")

    errors: list[BaseException] = []
    held, release, holder = hold_row(Enrollment, enrollment.pk, errors)

    assert held.wait(timeout=30)
    workers = [started(lambda: inbound_route_task(first.pk), errors)]
    wait_for_lock_waits(1)  # the first worker: contact locked, waiting for the enrollment
    workers.append(started(lambda: inbound_route_task(second.pk), errors))
    wait_for_lock_waits(2)  # the second worker waits too, on the contact
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.routed_at, second.routed_at) == (None, None)  # nothing committed yet

    release.set()
    for t in [holder, *workers]:
        t.join(timeout=60)
    assert not errors, errors
    enrollment = Enrollment.objects.get(pk=enrollment.pk)
    assert (enrollment.status, enrollment.step_id) == ("completed", "purchased")
    steps = EnrollmentStep.objects.filter(enrollment=enrollment).order_by("pk")
    assert [(s.via, s.step_id) for s in steps] == [
        ("enroll", "invited"),
        ("reply", "quoted"),
        ("reply", "purchased"),
    ]
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.routed_at < second.routed_at
    assert not OutboundMessage.objects.filter(purpose="fallback").exists()


def test_an_admin_opt_out_racing_a_reply(demo_plan, settings, django_user_model, sms_outbox):
    """A marketer opts the contact out in the admin while a worker is routing the contact's
    QUOTE: the opt-out waits for the reply's transaction, then ends the enrollment the
    reply moved. The Quoted prompt is either canceled by the opt-out or, when the worker
    had already claimed it for sending, sent once (in flight, like a STOP during a send)."""
    from automation.tasks import inbound_route_task

    twilio = TwilioClient(Client())
    assert twilio.post("/twilio/sms/", inbound_payload(PHONE, "hello")).status_code == 200
    enrollment = Enrollment.objects.get(contact__phone=PHONE)
    contact = enrollment.contact
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # stored only: the test plays the worker
    assert twilio.post("/twilio/sms/", inbound_payload(PHONE, "QUOTE")).status_code == 200
    quote = Interaction.objects.get(contact=contact, direction="inbound", routed_at__isnull=True)
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the worker sends in-process once it commits
    marketer = django_user_model.objects.create_superuser("root", "root@example.com", "pw")

    errors: list[BaseException] = []
    held, release, holder = hold_row(Enrollment, enrollment.pk, errors)

    def admin_opt_out():
        admin = Client()
        admin.force_login(marketer)
        response = admin.post(
            "/admin/contacts/contact/", {"action": "opt_out", "_selected_action": [contact.pk]}
        )
        assert response.status_code == 302

    assert held.wait(timeout=30)
    worker = started(lambda: inbound_route_task(quote.pk), errors)
    wait_for_lock_waits(1)
    admin = started(admin_opt_out, errors)
    wait_for_lock_waits(2)  # the opt-out waits for the contact's row

    release.set()
    for t in (holder, worker, admin):
        t.join(timeout=60)
    assert not errors, errors
    contact.refresh_from_db()
    enrollment = Enrollment.objects.get(pk=enrollment.pk)
    assert contact.opted_out and enrollment.status == "opted_out"
    steps = [(s.via, s.step_id) for s in EnrollmentStep.objects.filter(enrollment=enrollment).order_by("pk")]
    assert steps == [("enroll", "invited"), ("reply", "quoted"), ("opt_out", "quoted")]
    assert contact.consent_events.count() == 1
    prompt = OutboundMessage.objects.get(contact=contact, step_id="quoted", purpose="prompt")
    assert prompt.status in ("canceled", "sent")
    assert bodies(sms_outbox).count(QUOTED) == (prompt.status == "sent")
    assert prompt.attempts == (prompt.status == "sent")  # claimed once, or never


@pytest.mark.timeout(60)
def test_the_webhook_never_waits_behind_a_contact_lock(demo_plan, settings):
    """The contact lock every change takes is FOR NO KEY UPDATE: storing a new message of
    that contact (an INSERT whose foreign-key check takes FOR KEY SHARE) goes through while
    the lock is held. (FOR UPDATE would make the webhook wait for the whole transaction.)"""
    from contacts.locks import contact_lock

    twilio = TwilioClient(Client())
    assert twilio.post("/twilio/sms/", inbound_payload(PHONE, "hello")).status_code == 200
    contact = Contact.objects.get(phone=PHONE)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # stored only: nothing routes it now

    errors: list[BaseException] = []
    held, release = threading.Event(), threading.Event()

    def hold_the_contact():
        with transaction.atomic():
            contact_lock(contact_id=contact.pk)
            held.set()
            release.wait(timeout=15)

    holder = started(hold_the_contact, errors)
    assert held.wait(timeout=30)
    try:
        response = twilio.post("/twilio/sms/", inbound_payload(PHONE, "QUOTE"))
        still_held = holder.is_alive() and not release.is_set()  # answered under the lock
    finally:
        release.set()
        holder.join(timeout=60)
    assert not errors, errors
    assert still_held, "the webhook waited for the contact lock to be released"
    assert response.status_code == 200
    assert Interaction.objects.filter(contact=contact, direction="inbound", body="QUOTE").exists()


def test_the_same_event_posted_at_once_is_kept_once():
    """docs/reference.md §7: event_id is the idempotency key, also when a shop retries in parallel;
    when the retries disagree about the number, the number that won keeps the event and
    the other is refused (409), its contact made in the race rolled back."""
    import json

    auth = token_auth(api_user("shop", "tracking.add_interaction"))

    def poster(phones):
        def post():
            body = json.dumps({"event_id": "order-1", "phone": next(phones), "type": "purchase"})
            response = Client().post("/api/events/", body, content_type="application/json", **auth)
            return response.status_code, response.json()

        return post

    answers = all_at_once(poster(iter(["+12125551000"] * 8)))
    assert sorted(status for status, _ in answers) == [200] * 7 + [201]
    assert len({(body["id"], body["contact"]) for _, body in answers}) == 1
    assert Interaction.objects.filter(event_id="order-1").count() == 1

    Interaction.objects.all().delete()
    Contact.objects.all().delete()
    numbers = iter([f"+1212555{2000 + n % 2}" for n in range(8)])
    answers = all_at_once(poster(numbers))
    assert sorted(status for status, _ in answers) == [200] * 3 + [201] + [409] * 4, answers
    kept = Interaction.objects.get(event_id="order-1")
    assert {(body["id"], body["contact"]) for status, body in answers if status != 409} == {
        (kept.pk, kept.contact_id)
    }
    assert all(list(body["errors"]) == ["event_id"] for status, body in answers if status == 409)
    # The losing number's contact, made in the race, was rolled back with it.
    assert list(Contact.objects.values_list("phone", flat=True)) == [kept.from_address]


def test_simultaneous_first_clicks_make_one_link_click_event(sms_outbox):
    """Eight taps on one tracked link at once: eight clicks counted, one link_click event,
    one move of the journey waiting for it."""
    from automation.tests.factories import plan_make, send
    from tracking.models import TrackedLink

    plan_make(
        entry={"trigger": "keyword", "keywords": ["SPRING"]},
        steps=[
            send("offer", "Sale: https://shop.example.com/spring", "wait"),
            {"id": "wait", "type": "wait_event", "event": "link_click", "next": "thanks"},
            send("thanks", "Glad you looked!"),
        ],
    )
    assert TwilioClient(Client()).post("/twilio/sms/", inbound_payload(PHONE, "spring")).status_code == 200
    (code,) = codes(sms_outbox[0].body)
    statuses = all_at_once(
        lambda: Client().get(f"/l/{code}", HTTP_USER_AGENT="Mozilla/5.0 (iPhone)").status_code
    )
    assert statuses == [302] * 8
    assert TrackedLink.objects.get(code=code).clicks == 8
    assert Interaction.objects.filter(channel="api", body="link_click").count() == 1
    enrollment = Enrollment.objects.get(contact__phone=PHONE)
    assert enrollment.status == "completed"
    assert EnrollmentStep.objects.filter(enrollment=enrollment, via="event").count() == 1
    assert bodies(sms_outbox).count("Glad you looked!") == 1
