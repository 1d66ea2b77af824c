"""The read-only history admins: enrollments (with steps), outbound messages, interactions,
goal conversions — lists, filters and no way to change them."""

import pytest
from django.urls import reverse
from django.utils import timezone

from automation.models import Enrollment, EnrollmentStep
from automation.tests.factories import EnrollmentFactory, ask, plan_make
from messaging.models import OutboundMessage
from messaging.tests.factories import OutboundMessageFactory
from tracking.tests.factories import InteractionFactory

pytestmark = pytest.mark.django_db


def _results(client, name: str, **params) -> list:
    response = client.get(reverse(f"admin:{name}_changelist"), params)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_enrollment_filters_plan_status_and_step(admin_client):
    plan = plan_make(
        name="Spring", steps=[ask("start", "Go?", [("GO", "later")]), ask("later", "", name="Later")]
    )
    a = EnrollmentFactory(plan=plan, step_id="start")
    b = EnrollmentFactory(plan=plan, step_id="later")
    other = EnrollmentFactory()
    Enrollment.objects.filter(pk=b.pk).update(status="completed")
    assert set(_results(admin_client, "automation_enrollment", plan__id__exact=plan.pk)) == {a, b}
    assert _results(admin_client, "automation_enrollment", status__exact="completed") == [b]
    assert _results(admin_client, "automation_enrollment", step=f"{plan.pk}:later") == [b]
    page = admin_client.get(reverse("admin:automation_enrollment_changelist")).content.decode()
    assert "Spring: Later" in page  # the step filter names the plan too
    assert other in _results(admin_client, "automation_enrollment")


def test_enrollment_page_is_read_only_with_its_steps(admin_client):
    enrollment = EnrollmentFactory()
    EnrollmentStep.objects.create(
        enrollment=enrollment, step_id=enrollment.step_id, via="enroll", occurred_at=timezone.now()
    )
    url = reverse("admin:automation_enrollment_change", args=[enrollment.pk])
    page = admin_client.get(url).content.decode()
    assert "Enrolled" in page  # the step's via
    assert 'name="_save"' not in page
    assert admin_client.post(url, {}).status_code == 403
    assert admin_client.get(reverse("admin:automation_enrollment_add")).status_code == 403


def test_outbound_messages_filter_by_status_and_are_read_only(admin_client):
    enrollment = EnrollmentFactory()
    rows = [
        OutboundMessageFactory(
            contact=enrollment.contact,
            enrollment=enrollment,
            status=status,
            interaction__body=f"text {status}",
        )
        for status in ("queued", "delivered")
    ]
    assert _results(admin_client, "messaging_outboundmessage", status__exact="delivered") == [rows[1]]
    url = reverse("admin:messaging_outboundmessage_change", args=[rows[0].pk])
    assert "text queued" in admin_client.get(url).content.decode()
    assert admin_client.post(url, {}).status_code == 403
    delete = reverse("admin:messaging_outboundmessage_delete", args=[rows[0].pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert OutboundMessage.objects.count() == 2


def test_interactions_filter_by_direction_and_search_by_phone(admin_client):
    inbound = InteractionFactory(body="QUOTE")
    InteractionFactory(direction="outbound", body="Your quote")
    assert _results(admin_client, "tracking_interaction", direction__exact="inbound") == [inbound]
    assert _results(admin_client, "tracking_interaction", q=inbound.contact.phone) == [inbound]
