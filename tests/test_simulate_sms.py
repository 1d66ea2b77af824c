"""manage.py simulate_sms FROM_NUMBER "TEXT" (docs/reference.md §4): prints the answer,
stores and sends nothing."""

import pytest
from django.core.management import CommandError

from automation.models import Enrollment
from conftest import INVITE, QUOTED, bodies, command
from contacts.models import Contact
from messaging.models import OutboundMessage
from tracking.models import GoalConversion, Interaction

PHONE = "+12125550123"


def simulate(*args) -> str:
    return command("simulate_sms", *args)[0]


def counts():
    return (
        Contact.objects.count(),
        Interaction.objects.count(),
        Enrollment.objects.count(),
        OutboundMessage.objects.count(),
        GoalConversion.objects.count(),
    )


@pytest.mark.django_db(transaction=True)
def test_a_first_message_shows_the_invitation_and_leaves_no_trace(demo_plan, sms_outbox):
    output = simulate(PHONE, "hello")
    assert output == f"→ {PHONE}: {INVITE}\n"
    assert counts() == (0, 0, 0, 0, 0)
    assert sms_outbox == []


@pytest.mark.django_db
def test_a_reply_is_judged_against_the_contacts_real_state(demo_plan, text_in, sms_outbox):
    text_in(PHONE, "hello")
    enrollment = Enrollment.objects.get()
    before = counts()
    assert simulate(PHONE, "  quote! ") == f"→ {PHONE}: {QUOTED}\n"
    assert counts() == before
    assert Enrollment.objects.get(pk=enrollment.pk).step_id == "invited"
    assert Contact.objects.get().engagement_value == 0
    assert bodies(sms_outbox) == [INVITE]


@pytest.mark.django_db
def test_national_numbers_are_read_in_the_default_region(demo_plan, settings):
    settings.PHONE_DEFAULT_REGION = "US"
    assert simulate("(212) 555-0123", "hello") == f"→ {PHONE}: {INVITE}\n"


@pytest.mark.django_db
def test_simulate_sms_shows_the_help_text_and_nothing_for_an_opted_out_contact(demo_plan, settings, text_in):
    settings.SMS_HELP_TEXT = "Acme: reply STOP to opt out."
    assert simulate(PHONE, "help") == f"→ {PHONE}: Acme: reply STOP to opt out.\n"
    text_in(PHONE, "STOP")
    assert simulate(PHONE, "hello") == f"{PHONE} would be sent nothing.\n"
    assert Contact.objects.get().opted_out is True


@pytest.mark.django_db
@pytest.mark.parametrize("number", ["12", "not a phone", "+1 555", ""])
def test_a_bad_number_is_a_clear_error(number):
    with pytest.raises(CommandError, match="is not a usable phone number"):
        simulate(number, "hello")
    assert counts() == (0, 0, 0, 0, 0)
