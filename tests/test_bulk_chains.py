"""A bulk enrollment under real workers (automation/engine/bulk.py): its batches run in a
few chains, a batch handing the next of its chain over when it ends, so that a big job
never holds every worker thread while the texts it queued wait (bench/campaign.py);
every contact is enrolled once and texted once."""

import pytest
from django.utils import timezone

from automation.engine import bulk
from automation.engine.bulk import bulk_enrollment_create
from automation.models import BulkEnrollmentBatch, BulkEnrollmentJob, Enrollment
from automation.tests.factories import plan_make, send
from contacts.tests.factories import ContactFactory
from tests.celery_worker import celery_worker
from tests.servers import fake_twilio_env, log_tail, wait_for

pytestmark = [
    pytest.mark.celery_broker,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def test_a_job_s_batches_run_one_after_another_and_each_contact_is_texted_once(
    settings, fake_twilio, monkeypatch
):
    monkeypatch.setattr(bulk, "BATCH_SIZE", 2)
    plan = plan_make(slug="promo", entry={"trigger": "none"}, steps=[send("p", "Spring sale")])
    contacts = [ContactFactory(phone=f"+1212555{n:04d}", consent_at=timezone.now()) for n in range(9)]
    env = {**fake_twilio_env(fake_twilio), "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL}
    with celery_worker(settings, threads=4, **env) as (_worker, log):
        job = bulk_enrollment_create(plan=plan, contact_ids=[c.pk for c in contacts])
        done = wait_for(lambda: len(fake_twilio.received) >= 9, timeout=60)
        assert done, log_tail(log)
        assert wait_for(
            lambda: BulkEnrollmentJob.objects.filter(pk=job.pk, status="done").exists(), timeout=30
        ), log_tail(log)
    assert sorted(r["form"]["To"] for r in fake_twilio.received) == sorted(c.phone for c in contacts)
    job.refresh_from_db()
    assert (job.processed, job.enrolled) == (9, 9)
    # Five batches in bulk.CHAINS chains: each batch started after the one before it in its
    # chain was counted.
    counted = dict(BulkEnrollmentBatch.objects.filter(job=job).values_list("index", "counted_at"))
    assert sorted(counted) == [0, 1, 2, 3, 4]
    ids = sorted(c.pk for c in contacts)
    for index in range(bulk.CHAINS, 5):
        batch = ids[2 * index : 2 * index + 2]
        started = Enrollment.objects.filter(contact_id__in=batch).order_by("enrolled_at").first().enrolled_at
        assert counted[index - bulk.CHAINS] <= started
