"""The webhook stores a message and hands it over; the engine routes it once (docs/architecture.md §1).

With a broker the webhook only stores and enqueues; a worker routes. These tests point the
broker at a closed port, so nothing is ever delivered to a worker: what the webhook leaves
behind is exactly what a worker would find, and the sweeper (beat) plays the worker.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from automation.engine.inbound import inbound_message_route, inbound_route_due
from automation.models import Enrollment
from automation.tasks import inbound_route_due_task
from conftest import INVITE, QUOTED, inbound_payload
from messaging.models import OutboundMessage
from tracking.models import Interaction

pytestmark = pytest.mark.django_db

PHONE = "+12125550161"


@pytest.fixture
def broker_down(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there


def later(minutes: int = 2):
    return timezone.now() + timedelta(minutes=minutes)


def test_the_webhook_answers_once_the_message_is_stored_and_the_sweeper_routes_it(
    twilio, broker_down, demo_plan, django_capture_on_commit_callbacks, sms_outbox
):
    response = twilio.post("/twilio/sms/", inbound_payload(PHONE, "hello"))
    assert response.status_code == 200  # how long the broker may make it wait: test_settings

    stored = Interaction.objects.get(direction="inbound", contact__phone=PHONE)
    assert (stored.body, stored.routed_at) == ("hello", None)
    assert not Enrollment.objects.exists() and not OutboundMessage.objects.exists()
    assert inbound_route_due() == 0  # within the grace period a worker may still take it

    with django_capture_on_commit_callbacks(execute=True):
        assert inbound_route_due(now=later()) == 1
    stored.refresh_from_db()
    assert stored.routed_at is not None
    enrollment = Enrollment.objects.get(contact__phone=PHONE)
    assert (enrollment.plan_id, enrollment.step_id) == (demo_plan.pk, "invited")
    assert OutboundMessage.objects.get(contact__phone=PHONE).interaction.body.startswith("Hi!")
    assert inbound_route_due(now=later()) == 0  # routed once


def test_messages_wait_in_order_and_are_routed_oldest_first(twilio, broker_down, demo_plan):
    for body in ["hello", "quote", "buy"]:
        assert twilio.post("/twilio/sms/", inbound_payload(PHONE, body)).status_code == 200
    assert Interaction.objects.filter(routed_at__isnull=True).count() == 3
    assert inbound_route_due_task.apply(kwargs={}).get() == {"routed": 0}  # too recent
    assert inbound_route_due(now=later()) == 3
    enrollment = Enrollment.objects.get(contact__phone=PHONE)
    assert (enrollment.status, enrollment.step_id) == ("completed", "purchased")


def test_a_message_is_routed_once_however_often_its_task_runs(twilio, broker_down, demo_plan):
    twilio.post("/twilio/sms/", inbound_payload(PHONE, "hello"))
    pk = Interaction.objects.get(direction="inbound").pk
    first = inbound_message_route(interaction_id=pk)
    assert first is not None and first.contact.phone == PHONE and first.interaction.body == "hello"
    assert inbound_message_route(interaction_id=pk) is None  # a redelivered task
    assert Enrollment.objects.count() == 1 and OutboundMessage.objects.count() == 1


def test_the_sweeper_leaves_day_old_messages_to_a_person(twilio, broker_down, demo_plan):
    twilio.post("/twilio/sms/", inbound_payload(PHONE, "hello"))
    assert inbound_route_due(now=later(minutes=60 * 24 + 5)) == 0
    assert Interaction.objects.get(direction="inbound").routed_at is None


def test_the_cron_command_routes_what_waits(twilio, broker_down, demo_plan, time_machine):
    from io import StringIO

    from django.core.management import call_command

    twilio.post("/twilio/sms/", inbound_payload(PHONE, "hello"))
    out = StringIO()
    call_command("route_waiting_messages", stdout=out)
    assert out.getvalue() == "Routed 0 waiting messages.\n"
    time_machine.move_to(later(), tick=False)
    call_command("route_waiting_messages", stdout=out)
    assert out.getvalue().endswith("Routed 1 waiting message.\n")
    assert Enrollment.objects.filter(contact__phone=PHONE).count() == 1


def test_a_new_number_gets_a_contact_with_the_models_defaults(twilio, broker_down):
    """The webhook creates a new number's contact inside its one INSERT (on PostgreSQL from
    the columns' database defaults): it must be the contact the ORM would have made."""
    from contacts.models import Contact

    twilio.post("/twilio/sms/", inbound_payload(PHONE, "hello"))
    made = Contact.objects.get(phone=PHONE)
    stored = Interaction.objects.get(direction="inbound")
    orm = Contact(phone=PHONE)
    fields = ["first_name", "last_name", "email", "timezone", "locale", "opted_out", "opted_out_at"]
    fields += ["attributes", "engagement_value", "is_test", "last_inbound_at"]
    assert {f: getattr(made, f) for f in fields} == {f: getattr(orm, f) for f in fields}
    assert abs(made.updated_at - made.created_at) < timedelta(seconds=1) and stored.contact_id == made.pk


# --- order per contact (docs/reference.md §3: judged in the order received, whatever the workers) ----


def test_a_younger_message_whose_older_one_is_still_queued_routes_the_older_one_first(
    twilio, broker_down, demo_plan, django_capture_on_commit_callbacks
):
    """Two messages a moment apart; the worker that takes the second one gets it first
    (the first one's task is held in the broker). The first is judged first all the same."""
    from automation.tasks import inbound_route_task

    for body in ["hello", "QUOTE"]:
        assert twilio.post("/twilio/sms/", inbound_payload(PHONE, body)).status_code == 200
    hello, quote = Interaction.objects.filter(direction="inbound").order_by("pk")

    with django_capture_on_commit_callbacks(execute=True):
        inbound_route_task(quote.pk)  # the second message's task, delivered first

    enrollment = Enrollment.objects.get(contact__phone=PHONE)
    assert enrollment.step_id == "quoted"  # hello enrolled, then QUOTE moved on
    prompts = OutboundMessage.objects.order_by("pk").values_list("interaction__body", flat=True)
    assert list(prompts) == [
        INVITE,
        QUOTED,
    ]
    assert not OutboundMessage.objects.filter(purpose="fallback").exists()
    hello.refresh_from_db()
    assert hello.routed_at is not None
    assert inbound_message_route(interaction_id=hello.pk) is None  # its own task, late: nothing


def test_a_day_old_waiting_message_is_never_routed_late_by_a_younger_one(
    twilio, broker_down, demo_plan, time_machine, django_capture_on_commit_callbacks
):
    twilio.post("/twilio/sms/", inbound_payload(PHONE, "hello"))
    time_machine.move_to(later(minutes=60 * 24 + 5), tick=False)
    twilio.post("/twilio/sms/", inbound_payload(PHONE, "QUOTE"))
    old, new = Interaction.objects.filter(direction="inbound").order_by("pk")
    with django_capture_on_commit_callbacks(execute=True):
        assert inbound_message_route(interaction_id=new.pk) is not None
    old.refresh_from_db()
    assert old.routed_at is None  # left for a person
    assert Enrollment.objects.get(contact__phone=PHONE).step_id == "invited"


# --- a message that cannot be routed: counted, given up, never spun on ------------------


@pytest.fixture
def enrollment_steps_refused(db):
    """The database refuses to record enrollment steps (a fault below our code): routing a
    message that enrolls someone raises, every time, until the fixture ends."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_step() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'steps refused'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER refuse_step BEFORE INSERT ON automation_enrollmentstep "
                "FOR EACH ROW EXECUTE FUNCTION refuse_step()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER refuse_step BEFORE INSERT ON automation_enrollmentstep "
                "BEGIN SELECT RAISE(ABORT, 'steps refused'); END"
            )
    mended = []

    def mend():
        if mended:
            return
        mended.append(True)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("DROP TRIGGER refuse_step ON automation_enrollmentstep")
                cursor.execute("DROP FUNCTION refuse_step()")
            else:
                cursor.execute("DROP TRIGGER refuse_step")

    yield mend
    mend()


def test_a_message_that_cannot_be_routed_is_given_up_after_three_tries(
    twilio, broker_down, demo_plan, enrollment_steps_refused, time_machine
):
    twilio.post("/twilio/sms/", inbound_payload(PHONE, "hello"))
    stored = Interaction.objects.get(direction="inbound")
    time_machine.move_to(later(), tick=False)
    for attempt in (1, 2, 3):
        assert inbound_route_due() == 0
        stored.refresh_from_db()
        assert (stored.route_attempts, stored.routed_at) == (attempt, None)
        assert "steps refused" in stored.route_error
    assert stored.route_failed_at is not None  # given up: left for a person
    assert inbound_route_due() == 0
    stored.refresh_from_db()
    assert stored.route_attempts == 3  # the sweeper no longer tries it: no spinning
    assert not Enrollment.objects.exists()


def test_a_given_up_message_no_longer_holds_its_contact_s_later_messages(
    twilio, broker_down, demo_plan, enrollment_steps_refused, django_capture_on_commit_callbacks
):
    twilio.post("/twilio/sms/", inbound_payload(PHONE, "hello"))
    first = Interaction.objects.get(direction="inbound")
    for _ in range(3):
        assert inbound_message_route(interaction_id=first.pk) is None
    enrollment_steps_refused()  # the fault is mended
    twilio.post("/twilio/sms/", inbound_payload(PHONE, "hi again"))
    second = Interaction.objects.filter(direction="inbound").latest("pk")
    with django_capture_on_commit_callbacks(execute=True):
        assert inbound_message_route(interaction_id=second.pk) is not None
    first.refresh_from_db()
    assert (first.routed_at, first.route_attempts) == (None, 3)
    assert Enrollment.objects.get(contact__phone=PHONE).step_id == "invited"
