"""expire_enrollments and process_timeouts, through call_command (docs/reference.md §4)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import CommandError

from automation.models import Enrollment, EnrollmentStep
from automation.tests.factories import EnrollmentFactory, ask, plan_make
from conftest import command

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def enrollment_expiring_at(when):
    return EnrollmentFactory(enrolled_at=when - timedelta(days=7), expires_at=when)


def statuses(*enrollments):
    return [Enrollment.objects.get(pk=e.pk).status for e in enrollments]


@time_machine.travel(T0, tick=False)
def test_expire_enrollments_expires_the_due_ones_and_prints_how_many():
    due = [enrollment_expiring_at(T0 - timedelta(minutes=m)) for m in (0, 1, 600)]
    not_due = enrollment_expiring_at(T0 + timedelta(seconds=1))

    out, _ = command("expire_enrollments")

    assert "Expired 3 enrollments" in out
    assert statuses(*due) == ["expired"] * 3
    assert statuses(not_due) == ["active"]
    assert EnrollmentStep.objects.filter(via="expiry").count() == 3


@time_machine.travel(T0, tick=False)
def test_dry_run_counts_and_changes_nothing():
    due = [enrollment_expiring_at(T0 - timedelta(hours=1)) for _ in range(2)]

    out, _ = command("expire_enrollments", "--dry-run")

    assert "Would expire 2 enrollments" in out
    assert "nothing changed" in out
    assert statuses(*due) == ["active", "active"]
    assert not EnrollmentStep.objects.exists()


@time_machine.travel(T0, tick=False)
def test_as_of_moves_the_clock_for_the_command():
    tomorrow = enrollment_expiring_at(T0 + timedelta(days=1))
    later = enrollment_expiring_at(T0 + timedelta(days=3))

    out, _ = command("expire_enrollments", "--as-of", "2026-06-02T12:00:00Z")

    assert "Expired 1 enrollment " in out
    assert statuses(tomorrow, later) == ["expired", "active"]
    assert Enrollment.objects.get(pk=tomorrow.pk).ended_at == T0 + timedelta(days=1)


@time_machine.travel(T0, tick=False)
def test_as_of_with_an_offset_and_a_plain_date():
    e = enrollment_expiring_at(datetime(2026, 6, 2, 4, 0, tzinfo=UTC))
    out, _ = command("expire_enrollments", "--as-of", "2026-06-01T23:59:00-04:00", "--dry-run")  # 03:59 UTC
    assert "Would expire 0 enrollments" in out
    out, _ = command("expire_enrollments", "--as-of", "2026-06-03")
    assert "Expired 1 enrollment " in out
    assert statuses(e) == ["expired"]


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01", "2026-02-30T10:00:00", "12:00", ""])
def test_bad_as_of_is_a_clear_command_error(bad):
    e = enrollment_expiring_at(T0)
    with pytest.raises(CommandError, match="is not an ISO 8601 date-time"):
        command("expire_enrollments", "--as-of", bad)
    with pytest.raises(CommandError, match="is not an ISO 8601 date-time"):
        command("process_timeouts", "--as-of", bad)
    assert statuses(e) == ["active"]


@pytest.mark.parametrize("size", ["0", "-5"])
def test_bad_batch_size_is_a_command_error(size):
    with pytest.raises(CommandError, match="--batch-size must be a positive number"):
        command("expire_enrollments", "--batch-size", size)


@time_machine.travel(T0, tick=False)
def test_second_run_expires_nothing():
    due = [enrollment_expiring_at(T0 - timedelta(days=1)) for _ in range(3)]
    assert "Expired 3 " in command("expire_enrollments")[0]

    out, _ = command("expire_enrollments")

    assert "Expired 0 enrollments" in out
    assert statuses(*due) == ["expired"] * 3
    assert EnrollmentStep.objects.filter(via="expiry").count() == 3


@time_machine.travel(T0, tick=False)
def test_batch_size_smaller_than_the_count_expires_all_and_shows_progress():
    due = [enrollment_expiring_at(T0 - timedelta(minutes=i)) for i in range(7)]
    keep = enrollment_expiring_at(T0 + timedelta(days=1))

    out, err = command("expire_enrollments", "--batch-size", "3")

    assert "Expired 7 enrollments" in out
    assert statuses(*due) == ["expired"] * 7
    assert statuses(keep) == ["active"]
    assert "3 expired so far" in err
    assert "6 expired so far" in err


@time_machine.travel(T0, tick=False)
def test_process_timeouts_dry_run_and_as_of():
    plan = plan_make(
        steps=[
            ask("invited", "Reply YES", timeout={"after": "PT24H", "next": "reminded"}),
            ask("reminded", "Still?"),
        ]
    )
    e = EnrollmentFactory(plan=plan, prompt_sent_at=T0, timeout_at=T0 + timedelta(hours=24))

    assert "Would fire 0 timeouts" in command("process_timeouts", "--dry-run")[0]
    out, _ = command("process_timeouts", "--dry-run", "--as-of", "2026-06-02T12:00:00Z")
    assert "Would fire 1 timeout " in out
    assert Enrollment.objects.get(pk=e.pk).step_id == "invited"
    assert "Fired 0 timeouts" in command("process_timeouts")[0]
