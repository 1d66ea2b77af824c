import pytest
from django.core.exceptions import ValidationError

from automation.engine import bulk
from automation.engine.bulk import (
    bulk_enrollment_batch_run,
    bulk_enrollment_create,
    bulk_enrollment_from_csv,
    segment_from_csv,
)
from automation.models import BulkEnrollmentJob, Enrollment, Plan
from automation.tests.factories import EnrollmentFactory, ask, plan_make
from contacts.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def consenting(**fields):
    """A contact with marketing consent on record (bulk enrollment texts only those)."""
    from django.utils import timezone

    return ContactFactory(consent_at=timezone.now(), **fields)


@pytest.fixture
def plan():
    return plan_make(steps=[ask("invited", "Hi! Reply QUOTE.", name="Invited")])


def test_enrolls_in_batches_skipping_opted_out_enrolled_and_test_contacts(
    plan, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(bulk, "BATCH_SIZE", 2)
    fresh = [consenting() for _ in range(3)]
    opted_out = consenting(opted_out=True)
    enrolled = EnrollmentFactory(plan=plan, contact=consenting()).contact
    tester = consenting(is_test=True)
    unconsenting = ContactFactory()  # imported, never asked: no consent on record
    ids = [c.pk for c in [*fresh, opted_out, enrolled, tester, unconsenting]]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = bulk_enrollment_create(plan=plan, contact_ids=ids + ids[:2])  # duplicates collapse

    assert len([c for c in callbacks if c]) >= 4  # seven contacts in batches of two
    job.refresh_from_db()
    assert (job.status, job.total, job.processed) == ("done", 7, 7)
    assert (job.enrolled, job.skipped_opted_out, job.skipped_enrolled, job.skipped_other) == (3, 1, 1, 1)
    assert job.skipped_no_consent == 1
    assert not Enrollment.objects.filter(contact=unconsenting).exists()
    assert job.finished_at is not None
    assert set(
        Enrollment.objects.filter(plan=plan, status="active").values_list("contact_id", flat=True)
    ) == {
        *(c.pk for c in fresh),
        enrolled.pk,
    }
    # Bulk messages are not answers: quiet hours apply to them.
    first = fresh[0].outbound_messages.get()
    assert (first.purpose, first.answers_contact) == ("prompt", False)


def test_a_batch_task_delivered_twice_enrolls_nobody_twice_and_counts_once(plan):
    from automation.tasks_bulk import bulk_enrollment_batch_task

    contacts = [consenting(), consenting()]
    job = BulkEnrollmentJob.objects.create(plan=plan, total=2)
    for _ in range(2):  # acks_late: a worker restart delivers the same batch again
        bulk_enrollment_batch_task(job.pk, [c.pk for c in contacts], 0)
    assert Enrollment.objects.filter(plan=plan).count() == 2
    job.refresh_from_db()
    assert (job.processed, job.enrolled, job.skipped_enrolled, job.status) == (2, 2, 0, "done")


def test_a_batch_run_twice_without_an_index_enrolls_nobody_twice(plan):
    contact = consenting()
    job = BulkEnrollmentJob.objects.create(plan=plan, total=1)
    bulk_enrollment_batch_run(job_id=job.pk, contact_ids=[contact.pk])
    bulk_enrollment_batch_run(job_id=job.pk, contact_ids=[contact.pk])
    assert Enrollment.objects.filter(contact=contact, plan=plan).count() == 1


def test_once_only_plan_skips_contacts_that_were_ever_enrolled():
    plan = plan_make(reentry="never")
    past = EnrollmentFactory(plan=plan, contact=consenting())
    Enrollment.objects.filter(pk=past.pk).update(status="completed")
    job = BulkEnrollmentJob.objects.create(plan=plan, total=1)
    bulk_enrollment_batch_run(job_id=job.pk, contact_ids=[past.contact_id])
    job.refresh_from_db()
    assert (job.enrolled, job.skipped_enrolled) == (0, 1)


def test_only_active_plans_and_a_plan_paused_midway_skips_the_rest(plan):
    draft = plan_make(status=Plan.Status.DRAFT)
    with pytest.raises(ValidationError, match="only active plans enroll"):
        bulk_enrollment_create(plan=draft, contact_ids=[consenting().pk])
    assert not BulkEnrollmentJob.objects.exists()

    job = BulkEnrollmentJob.objects.create(plan=plan, total=2)
    Plan.objects.filter(pk=plan.pk).update(status=Plan.Status.PAUSED)
    bulk_enrollment_batch_run(job_id=job.pk, contact_ids=[consenting().pk, consenting().pk])
    job.refresh_from_db()
    assert (job.status, job.enrolled, job.skipped_other) == ("done", 0, 2)
    assert "not active" in job.note


def test_segment_from_csv_reports_bad_lines_by_number():
    consenting(phone="+14155550101")
    segment = segment_from_csv(data="phone,name\n(415) 555-0101,Ann\n+14155550109,Unknown\n\n")
    assert (segment.phones, segment.not_found) == (2, ["+14155550109"])
    with pytest.raises(ValidationError) as error:
        segment_from_csv(data="phone\n+14155550101\nabc\n+1\n")
    assert error.value.messages == ["Line 3: abc is not a phone number.", "Line 4: +1 is not a phone number."]
    # Without a header the first column is the phone number.
    assert segment_from_csv(data="4155550101\n").contact_ids != []


def test_csv_segment_job_counts_unknown_numbers(plan, django_capture_on_commit_callbacks):
    known = consenting(phone="+14155550101")
    with django_capture_on_commit_callbacks(execute=True):
        job = bulk_enrollment_from_csv(plan=plan, data="phone\n+14155550101\n+14155550102\n")
    job.refresh_from_db()
    assert (job.source, job.total, job.enrolled, job.not_found) == ("csv", 1, 1, 1)
    assert "+14155550102" in job.note
    assert Enrollment.objects.filter(contact=known, plan=plan).exists()


def test_admin_action_picks_a_plan_then_queues_the_job(
    admin_client, plan, django_capture_on_commit_callbacks
):
    contacts = [consenting(), consenting()]
    data = {"action": "enroll_in_plan", "_selected_action": [c.pk for c in contacts], "index": 0}
    page = admin_client.post("/admin/contacts/contact/", data)
    assert page.status_code == 200
    assert "Enroll contacts in a plan" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/contacts/contact/", {**data, "plan": plan.pk, "apply": "1"})
    job = BulkEnrollmentJob.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(
        f"/bulkenrollmentjob/{job.pk}/change/"
    )
    job.refresh_from_db()
    assert (job.status, job.enrolled) == ("done", 2)
    assert "2 / 2" in admin_client.get(response["Location"]).content.decode()


def test_plan_segment_upload_page(admin_client, plan, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    consenting(phone="+14155550101")
    url = f"/admin/automation/plan/{plan.pk}/enroll-csv/"
    bad = admin_client.post(url, {"file": SimpleUploadedFile("s.csv", b"phone\nxyz\n")})
    assert bad.status_code == 200 and "Line 2: xyz is not a phone number." in bad.content.decode()
    assert not BulkEnrollmentJob.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        ok = admin_client.post(url, {"file": SimpleUploadedFile("s.csv", b"phone\n+14155550101\n")})
    assert ok.status_code == 302
    assert BulkEnrollmentJob.objects.get().enrolled == 1
