"""Fixtures for the cross-app journey tests."""

import pytest

from conftest import inbound_payload


@pytest.fixture
def demo_plan(db):
    """The seed journey, exactly as `load_demo_plan` makes it, activated."""
    from automation.models import Plan
    from automation.services.plans import plan_load_demo

    plan = Plan.objects.get(pk=plan_load_demo().pk)  # protected FSM field: no refresh_from_db
    assert plan.status == Plan.Status.ACTIVE
    return plan


@pytest.fixture
def text_in(twilio, django_capture_on_commit_callbacks):
    """Send one inbound SMS through the signed webhook; on-commit work (the sends) runs."""

    def send(from_number: str, body: str, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            response = twilio.post("/twilio/sms/", inbound_payload(from_number, body, **extra))
        assert response.status_code == 200, response.content
        return response

    return send
