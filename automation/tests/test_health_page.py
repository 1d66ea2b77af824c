"""The health page (docs/cockpit.md, "Health") as a Marketer reads it: linked from the admin's
home, green when people are answered and the jobs run, red — with what is wrong in plain
words — when a text failed (what Twilio's code means, what to do), when messages wait to be
read, when a job has not run or when no worker is seen."""

import re
from datetime import timedelta

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from automation.cockpit.jobs import report_days_refresh_task
from conftest import command, page_text
from messaging.tests.conftest import accept_all, error, messages_url
from tracking.tests.factories import InteractionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(settings):
    """The page reads the mode from the settings: without a broker unless a test says so
    (a run with CELERY_BROKER_URL in its environment, as CI's, must see the same page)."""
    settings.CELERY_BROKER_URL = ""


@pytest.fixture
def cron_mode(settings):
    """Without a broker, jobs run from cron (the in-process scheduler off): no worker to see."""
    settings.IN_PROCESS_JOBS = False


def run_every_job(capture):
    """Each periodic job once, as cron and beat run them."""
    with capture(execute=True):
        command("process_timeouts")
        command("expire_enrollments")
        command("send_due_messages", "--for", "0")
        command("route_waiting_messages")
    report_days_refresh_task.apply()


def health(client) -> str:
    response = client.get(reverse("health"))
    assert response.status_code == 200
    return page_text(response)


def status_of(text: str) -> str:
    return re.search(r'id="health-status"[^>]*data-status="(\w+)"', text).group(1)


def test_linked_from_the_dashboard_for_marketers(marketer_client):
    home = page_text(marketer_client.get(reverse("admin:index")))
    assert f'href="{reverse("health")}"' in home


def test_only_for_those_who_may_see_the_senders(client, django_user_model):
    assert client.get(reverse("health")).status_code == 302  # to the login page
    client.force_login(django_user_model.objects.create_user("clerk", is_staff=True))
    assert client.get(reverse("health")).status_code == 403


def test_green_when_people_are_answered_and_the_jobs_ran(
    marketer_client, cron_mode, demo_plan, twilio_api, text_in, django_capture_on_commit_callbacks
):
    accept_all(twilio_api)
    text_in("+12125550111", "hi")
    run_every_job(django_capture_on_commit_callbacks)
    text = health(marketer_client)
    assert status_of(text) == "ok"
    assert "All is well" in text
    assert "None: every message that came in has been read." in text
    assert 'data-job="process-timeouts" class="health-ok"' in text


def test_red_when_a_text_failed_with_what_the_code_means(
    marketer_client, cron_mode, demo_plan, twilio_api, text_in, django_capture_on_commit_callbacks
):
    run_every_job(django_capture_on_commit_callbacks)
    twilio_api.add(responses.POST, messages_url(), **error(400, 21211, "invalid To"))
    text_in("+12125550112", "hi")
    text = health(marketer_client)
    assert status_of(text) == "problem"
    assert "1 text failed or went undelivered in the last 24 hours" in text
    row = re.search(r'<tr class="health-bad" data-code="21211">(.*?)</tr>', text, re.S).group(1)
    assert "The phone number is not a valid number." in row
    assert "Correct the contact's number" in row


def test_red_when_messages_wait_to_be_read(marketer_client, cron_mode, django_capture_on_commit_callbacks):
    run_every_job(django_capture_on_commit_callbacks)
    assert status_of(health(marketer_client)) == "ok"
    InteractionFactory(created_at=timezone.now() - timedelta(minutes=5), routed_at=None)
    text = health(marketer_client)
    assert status_of(text) == "problem"
    assert "1 message from contacts waiting to be read; the oldest for about 5 minutes" in text
    assert 'data-waiting="1"' in text


def test_red_when_a_job_has_not_run(marketer_client, cron_mode, django_capture_on_commit_callbacks):
    text = health(marketer_client)  # a fresh installation: no job has run yet
    assert status_of(text) == "problem"
    assert "A periodic job has not run lately" in text
    assert 'data-job="expire-enrollments" class="health-bad"' in text
    run_every_job(django_capture_on_commit_callbacks)
    assert status_of(health(marketer_client)) == "ok"


def test_red_when_no_worker_is_seen(marketer_client, settings, django_capture_on_commit_callbacks):
    run_every_job(django_capture_on_commit_callbacks)
    settings.IN_PROCESS_JOBS = True  # the web processes should run the jobs, and none said so
    text = health(marketer_client)
    assert status_of(text) == "problem"
    assert "The server's background work has not run in the last two minutes" in text
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # with a broker: workers must be seen
    text = health(marketer_client)
    assert "No worker has been seen in the last two minutes" in text
