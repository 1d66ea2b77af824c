"""What carriers audit in a program's texts (issue 12 point 5): the HELP answer, the opt-in
confirmation and a plan's first message; the admin and `manage.py check` warn."""

import html

import pytest
from django.core.management import call_command
from django.urls import reverse

from automation.tests.factories import ask, plan_make
from messaging.program_texts import program_text_missing

COMPLETE = "Acme Deals: 4 msgs/month. Msg & data rates may apply. Reply STOP to opt out, HELP for help."


def test_a_complete_program_text_lacks_nothing():
    assert program_text_missing(COMPLETE) == []
    assert program_text_missing("Acme: Msg frequency varies. Msg&data rates apply. Text STOP to end.") == []
    assert (
        program_text_missing(
            "Acme: Msg freq varies. Msg & data rates may apply. Reply HELP for help, STOP to opt out."
        )
        == []
    )
    assert (
        program_text_missing(
            "Welcome to Acme Deals! Recurring msgs. Message and data rates may apply. Reply STOP",
            program="Acme Deals",
        )
        == []
    )


def test_each_missing_part_is_named():
    assert program_text_missing("Hi! Reply QUOTE for a discount.") == [
        "the program's name (e.g. “Acme Deals: …” at the start)",
        "how often messages come (e.g. “Msg frequency varies” or “4 msgs/month”)",
        "“Msg & data rates may apply”",
        "how to opt out (e.g. “Reply STOP to opt out”)",
    ]


@pytest.mark.django_db
def test_the_plan_page_warns_about_its_first_message_and_the_help_text(admin_client, settings):
    settings.SMS_HELP_TEXT = "Call us."
    settings.SMS_OPT_IN_CONFIRMATION = COMPLETE
    plan = plan_make(
        name="Acme Deals",
        steps=[
            {"id": "tag", "type": "set", "fields": {"attributes.x": 1}, "next": "hi"},
            ask("hi", "Hi! Reply YES for deals.", name="Welcome"),
        ],
    )
    box = admin_client.get(reverse("admin:automation_plan_change", args=[plan.pk])).content.decode()
    box = html.unescape(box.split('id="plan-warnings"')[1].split("</div>")[0])
    assert (
        "“Welcome” sends the plan's first message, which carriers audit; it lacks the program's name" in box
    )
    assert "“Msg & data rates may apply”, how to opt out" in box
    assert "The HELP answer (SMS_HELP_TEXT), which carriers audit, lacks the program's name" in box
    assert "opt-in confirmation" not in box  # it says all it should
    good = plan_make(slug="good", name="Good", steps=[ask("hi", COMPLETE)])
    page = admin_client.get(reverse("admin:automation_plan_change", args=[good.pk])).content.decode()
    assert "first message" not in html.unescape(page)


def test_manage_py_check_warns_about_the_configured_texts(settings, capsys):
    settings.SMS_HELP_TEXT = "Call us."
    call_command("check")
    err = capsys.readouterr().err
    assert "messaging.W001" in err and "SMS_HELP_TEXT lacks what carriers audit" in err
    settings.SMS_HELP_TEXT = COMPLETE
    settings.SMS_OPT_IN_CONFIRMATION = COMPLETE
    call_command("check")
    assert "messaging.W00" not in capsys.readouterr().err
