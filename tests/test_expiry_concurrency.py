"""Expiry and timeouts against live traffic, another copy of themselves, and a real worker.

The PostgreSQL tests use real threads with their own connections (transactional tests):
whichever wins, an enrollment is never both expired and moved on from its old state.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from automation.engine import enrollment_expire_due, enrollment_timeouts_fire
from automation.models import Enrollment, EnrollmentStep
from automation.tasks import enrollment_expire_due_task
from automation.tests.factories import EnrollmentFactory
from conftest import TwilioClient, inbound_payload
from infra.cron import cron_lock
from tests.celery_worker import celery_worker, worker_log
from tests.servers import wait_for
from tests.threads import in_thread, started
from tracking.models import GoalConversion, Interaction


def post_inbound(phone: str, body: str) -> int:
    """The signed webhook from a thread of its own (its own DB connection)."""
    return in_thread(
        lambda: TwilioClient(Client()).post("/twilio/sms/", inbound_payload(phone, body)).status_code
    )


def steps(enrollment) -> list[tuple[str, str]]:
    return list(
        EnrollmentStep.objects.filter(enrollment=enrollment).order_by("id").values_list("via", "step_id")
    )


def assert_consistent(enrollment: Enrollment) -> None:
    """Expired means expired from where it was: the expiry step is the last one and names
    the enrollment's current state; nothing happened to it after that."""
    history = steps(enrollment)
    vias = [via for via, _ in history]
    if enrollment.status == Enrollment.Status.EXPIRED:
        assert vias.count("expiry") == 1, history
        assert history[-1] == ("expiry", enrollment.step_id), history
    else:
        assert "expiry" not in vias, history
    if enrollment.step_id == "quoted":
        assert ("reply", "quoted") in history, history
        quote_goal = GoalConversion.objects.filter(enrollment=enrollment, goal__name="Quote requested")
        assert quote_goal.count() == 1


# --- the lock that keeps beat runs from overlapping (any database) --------------------


@pytest.mark.django_db
def test_a_second_beat_run_is_skipped_while_the_first_holds_the_lock():
    e = EnrollmentFactory(enrolled_at=timezone.now() - timedelta(days=8))
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first_run():
        with cron_lock("enrollment_expire_due_task") as acquired:
            assert acquired
            holding.set()
            release.wait(30)

    thread = started(first_run, errors)
    try:
        assert holding.wait(30), errors
        assert enrollment_expire_due_task.apply().get() == {"skipped": True}
        assert Enrollment.objects.get(pk=e.pk).status == "active"
    finally:
        release.set()
        thread.join(30)
    assert not errors, errors
    assert enrollment_expire_due_task.apply().get() == {"expired": 1}
    assert Enrollment.objects.get(pk=e.pk).status == "expired"


# --- PostgreSQL: real row locks -------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_expiry_skips_a_row_a_reply_holds_and_never_waits_for_it():
    """A reply holds the contact and enrollment rows (engine lock order): expiry passes
    over it at once (SKIP LOCKED) and expires it on the next run."""
    busy = EnrollmentFactory(enrolled_at=timezone.now() - timedelta(days=8))
    free = EnrollmentFactory(enrolled_at=timezone.now() - timedelta(days=8))
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def reply_in_progress():
        with transaction.atomic():
            list(type(busy.contact).objects.select_for_update().filter(pk=busy.contact_id))
            list(Enrollment.objects.select_for_update().filter(pk=busy.pk))
            holding.set()
            release.wait(30)

    thread = started(reply_in_progress, errors)
    try:
        assert holding.wait(30), errors
        with ThreadPoolExecutor(1) as pool:  # a deadline, so a regression fails instead of hanging
            assert pool.submit(in_thread, enrollment_expire_due).result(timeout=20) == 1
        assert Enrollment.objects.get(pk=free.pk).status == "expired"
        assert Enrollment.objects.get(pk=busy.pk).status == "active"
    finally:
        release.set()
        thread.join(30)
    assert not errors, errors
    assert enrollment_expire_due() == 1
    assert Enrollment.objects.get(pk=busy.pk).status == "expired"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_copies_of_expiry_expire_each_enrollment_once():
    for _ in range(60):
        EnrollmentFactory(enrolled_at=timezone.now() - timedelta(days=8))
    now = timezone.now()
    with ThreadPoolExecutor(2) as pool:
        counts = list(pool.map(lambda _: in_thread(enrollment_expire_due, now=now, batch_size=7), range(2)))
    assert sum(counts) == 60
    assert EnrollmentStep.objects.filter(via="expiry").count() == 60
    assert not Enrollment.objects.filter(status="active").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_expiry_racing_replies_never_expires_from_a_state_it_left(demo_plan):
    """Contacts in Invited, due for expiry, reply QUOTE while expiry runs. Whichever wins
    for each one: expired from Invited (and the reply enrolls them afresh), or moved to
    Quoted (and expired from Quoted if expiry came after) — never a mix."""
    phones = [f"+1212555{n:04d}" for n in range(3100, 3130)]
    with ThreadPoolExecutor(3) as pool:
        assert set(pool.map(lambda p: post_inbound(p, "hi"), phones)) == {200}
    Enrollment.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    originals = list(Enrollment.objects.values_list("pk", flat=True))
    assert len(originals) == len(phones)

    start = threading.Barrier(3)

    def replies(chunk):
        start.wait()
        return [post_inbound(p, "QUOTE") for p in chunk]

    def expiry():
        start.wait()
        total = 0
        for _ in range(20):  # small batches, repeatedly, to interleave with the replies
            total += in_thread(enrollment_expire_due, batch_size=2)
        return total

    with ThreadPoolExecutor(3) as pool:
        a = pool.submit(in_thread, replies, phones[::2])
        b = pool.submit(in_thread, replies, phones[1::2])
        c = pool.submit(expiry)
        assert set(a.result(60) + b.result(60)) == {200}
        c.result(60)
    enrollment_expire_due()  # the stragglers a reply held at the time

    outcomes = set()
    for pk in originals:
        e = Enrollment.objects.select_related("contact").get(pk=pk)
        assert e.status == Enrollment.Status.EXPIRED  # all were due
        assert_consistent(e)
        outcomes.add(e.step_id)
        replies_seen = Interaction.objects.filter(
            contact=e.contact, direction="inbound", body="QUOTE"
        ).count()
        assert replies_seen == 1
        if e.step_id == "invited":
            # Expiry won: the reply found no active enrollment and enrolled the contact afresh.
            fresh = Enrollment.objects.get(contact=e.contact, status="active")
            assert fresh.step_id == "invited"
        else:
            assert not Enrollment.objects.filter(contact=e.contact, status="active").exists()
    assert outcomes <= {"invited", "quoted"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_timeouts_racing_replies_fire_only_from_the_state_they_were_set_in(demo_plan):
    """Contacts in Invited with their 24 h timeout due reply QUOTE while the timeouts job
    runs: each ends in Quoted, or in Reminded and then Quoted — never reminded from Quoted."""
    phones = [f"+1212555{n:04d}" for n in range(3200, 3220)]
    with ThreadPoolExecutor(3) as pool:
        assert set(pool.map(lambda p: post_inbound(p, "hi"), phones)) == {200}
    Enrollment.objects.update(timeout_at=timezone.now() - timedelta(seconds=1), prompt_sent_at=None)
    start = threading.Barrier(2)

    def replies():
        start.wait()
        return [post_inbound(p, "QUOTE") for p in phones]

    def fire():
        start.wait()
        return in_thread(enrollment_timeouts_fire, batch_size=3)

    with ThreadPoolExecutor(2) as pool:
        r, f = pool.submit(in_thread, replies), pool.submit(fire)
        assert set(r.result(60)) == {200}
        f.result(60)
    enrollment_timeouts_fire()
    for e in Enrollment.objects.all():
        history = steps(e)
        assert e.step_id == "quoted", history
        assert history in (
            [("enroll", "invited"), ("reply", "quoted")],
            [("enroll", "invited"), ("timeout", "reminded"), ("reply", "quoted")],
        ), history


# --- Celery mode: a real worker runs the beat task -----------------------------------


@pytest.mark.celery_broker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_expiry_beat_task(settings):
    e = EnrollmentFactory(enrolled_at=timezone.now() - timedelta(days=8))
    with celery_worker(settings, SMS_BACKEND="locmem") as (proc, log):
        enrollment_expire_due_task.delay()  # what beat sends every minute
        expired = wait_for(lambda: Enrollment.objects.get(pk=e.pk).status == "expired", timeout=60)
        assert expired, worker_log(proc, log)
        assert steps(e) == [("expiry", e.step_id)]
