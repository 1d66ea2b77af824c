"""Test contacts (the simulator's) stay out of every list a marketer reads, and of its
count, unless the "test contacts" filter asks for them."""

import pytest
from django.urls import reverse

from automation.cockpit.simulator import simulator_send
from automation.models import Plan
from automation.tests.factories import ask, plan_make
from contacts.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

LISTS = [
    "admin:contacts_contact_changelist",
    "admin:automation_enrollment_changelist",
    "admin:tracking_interaction_changelist",
    "admin:tracking_goalconversion_changelist",
    "admin:messaging_outboundmessage_changelist",
]


def test_lists_leave_test_contacts_out_unless_asked(
    admin_client, admin_user, text_in, django_capture_on_commit_callbacks
):
    plan = plan_make(
        status=Plan.Status.ACTIVE,
        entry={"trigger": "any"},
        steps=[ask("asked", "Rate us 1-5", [({"match": "number"}, None)], goal="rated")],
        goals=[{"slug": "rated", "name": "Rated", "points": 1}],
    )
    ContactFactory(phone="+12125550100")
    text_in("+12125550100", "hi")  # a real contact: in every list
    with django_capture_on_commit_callbacks(execute=True):
        simulator_send(plan=plan, user=admin_user, text="hi")  # the test contact: in none
    test_phone = "+12025550100"

    for name in LISTS:
        url = reverse(name)
        shown = admin_client.get(url)
        assert shown.status_code == 200, name
        page = shown.content.decode()
        assert "+12125550100" in page and test_phone not in page, name
        assert "Left out" in page  # the filter says so
        only = admin_client.get(url, {"test_contacts": "only"})
        assert only.context["cl"].result_count >= 1 and test_phone in only.content.decode(), name
        everyone = admin_client.get(url, {"test_contacts": "include"}).context["cl"].result_count
        assert everyone == shown.context["cl"].result_count + only.context["cl"].result_count, name
