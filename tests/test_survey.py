"""Issue 10's survey, end to end: imported as JSON with `plan_import`, then walked by
contacts through the signed webhook (rate us 1-5; 4-5 get a review link, 1-3 are asked
what went wrong and their answer is kept; the email is captured; the first question is
A/B tested; VIPs get their own wording; one reminder after 2 h of silence)."""

import re
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command

from automation.models import Enrollment
from conftest import bodies
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from tracking.models import GoalConversion

pytestmark = pytest.mark.django_db

SURVEY = Path(__file__).resolve().parent.parent / "docs" / "plans" / "spring-survey.json"
T0 = datetime(2030, 5, 6, 14, 0, tzinfo=UTC)
FIRST_QUESTIONS = {
    "ask-a": "How likely are you to recommend us, 1-5?",
    "ask-b": "Quick one: rate your last order from 1 (bad) to 5 (great).",
}
EMAIL = "Want our offers by email? Reply with your email address, or NO."


@pytest.fixture
def survey(db):
    out = StringIO()
    call_command("plan_import", str(SURVEY), stdout=out)
    assert out.getvalue().strip() == "Imported spring-survey revision 1"


def texts(outbox, phone):
    """What `phone` was sent, each tracked link shown as ⟨the URL it leads to⟩."""
    from tracking.models import TrackedLink

    def unshorten(match: re.Match) -> str:
        return f"⟨{TrackedLink.objects.get(code=match.group(1)).url}⟩"

    short = re.compile(r"https://sms\.example\.com/l/([\w-]+)")
    return [short.sub(unshorten, body) for body in bodies(outbox, phone)]


def test_a_vip_promoter_gets_the_vip_wording_the_review_link_and_gives_an_email(survey, text_in, sms_outbox):
    phone = "+12125550170"
    ContactFactory(phone=phone, first_name="Ann", attributes={"vip": True})
    text_in(phone, "survey")
    text_in(phone, "5")
    text_in(phone, "Ann@Example.com")
    assert texts(sms_outbox, phone) == [
        "Ann, as one of our best customers: how would you rate us, 1-5?",
        "Thank you! Would you review us? ⟨https://example.com/review⟩",
        EMAIL,
        "Thanks, Ann!",
    ]
    contact = Contact.objects.get(phone=phone)
    assert (contact.attributes["score"], contact.email) == (5, "ann@example.com")
    assert sorted(GoalConversion.objects.values_list("goal__slug", flat=True)) == [
        "email-captured",
        "promoter",
    ]
    assert contact.engagement_value == 7
    assert Enrollment.objects.get().status == "completed"


def test_a_detractor_is_asked_what_went_wrong_and_the_answer_is_kept(survey, text_in, sms_outbox):
    phone = "+12125550171"
    text_in(phone, "SURVEY")
    enrollment = Enrollment.objects.get()
    first = FIRST_QUESTIONS[enrollment.step_id]  # the A/B branch drawn
    assert enrollment.branches == {"ab": "A" if enrollment.step_id == "ask-a" else "B"}
    text_in(phone, "ten")  # not a number from 1 to 5
    text_in(phone, "2")
    text_in(phone, "The parcel came late and damaged.")
    text_in(phone, "not telling")
    text_in(phone, "still no")
    assert texts(sms_outbox, phone) == [
        first,
        "Please reply with a number from 1 to 5.",
        "Sorry to hear that. What went wrong?",
        EMAIL,
        "That does not look like an email address: try again, or reply NO.",
        "Thanks, friend!",
    ]
    contact = Contact.objects.get(phone=phone)
    assert contact.attributes == {"score": 2, "feedback": "The parcel came late and damaged."}
    assert contact.email == ""
    assert not GoalConversion.objects.exists()


def test_silence_gets_one_reminder_after_two_hours(survey, text_in, sms_outbox, timers):
    phone = "+12125550172"
    with time_machine.travel(T0, tick=False):
        text_in(phone, "survey")
    for hours in (1, 3, 30):  # the reminder goes once, after 2 h; nothing more after it
        timers(T0 + timedelta(hours=hours))
    sent = texts(sms_outbox, phone)
    assert sent[1:] == ["Just a reminder: how would you rate us, 1-5?"]
    text_in(phone, "4")
    assert texts(sms_outbox, phone)[-2:] == [
        "Thank you! Would you review us? ⟨https://example.com/review⟩",
        EMAIL,
    ]


def test_both_versions_of_the_first_question_are_drawn(survey, text_in, sms_outbox):
    phones = [f"+1212555{n:04d}" for n in range(7100, 7140)]
    for phone in phones:
        text_in(phone, "survey")
    drawn = {e.branches["ab"] for e in Enrollment.objects.all()}
    assert drawn == {"A", "B"}  # 40 draws at 50:50: both come up but once in 5·10¹¹ runs


def test_the_survey_round_trips(survey):
    import json

    out = StringIO()
    call_command("plan_export", "spring-survey", stdout=out)
    assert json.loads(out.getvalue()) == json.loads(SURVEY.read_text())
