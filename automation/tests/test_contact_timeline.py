import re
from datetime import timedelta

import pytest
from django.utils import timezone

from automation.cockpit.timeline import contact_timeline
from automation.models import Enrollment, EnrollmentStep
from automation.tests.factories import EnrollmentFactory, ask, plan_make
from contacts.models import ConsentEvent, Contact
from contacts.tests.factories import ContactFactory
from messaging.tests.factories import OutboundMessageFactory
from tracking.models import GoalConversion
from tracking.tests.factories import GoalFactory, InteractionFactory

pytestmark = pytest.mark.django_db


def _outbound(contact, body, at, status, enrollment=None, error_code=""):
    OutboundMessageFactory(
        contact=contact,
        enrollment=enrollment,
        status=status,
        error_code=error_code,
        interaction__body=body,
        interaction__created_at=at,
    )


def test_conversation_interleaved_with_journey_and_consent():
    contact = ContactFactory()
    t0 = timezone.now() - timedelta(hours=1)
    plan = plan_make(
        name="Quote and buy",
        steps=[
            ask("invited", "Reply QUOTE", [("QUOTE", "quoted")], name="Invited"),
            ask("quoted", "Q", name="Quoted"),
        ],
    )
    goal = GoalFactory(name="Quote requested", points=10)

    InteractionFactory(contact=contact, body="hi", created_at=t0)
    enrollment = EnrollmentFactory(contact=contact, plan=plan, step_id="quoted", enrolled_at=t0)
    EnrollmentStep.objects.create(enrollment=enrollment, step_id="invited", via="enroll", occurred_at=t0)
    _outbound(contact, "Reply QUOTE", t0, "delivered", enrollment)
    t1 = t0 + timedelta(minutes=5)
    InteractionFactory(contact=contact, body="quote", created_at=t1)
    EnrollmentStep.objects.create(enrollment=enrollment, step_id="quoted", via="reply", occurred_at=t1)
    GoalConversion.objects.create(
        contact=contact, goal=goal, enrollment=enrollment, points=10, occurred_at=t1
    )
    _outbound(contact, "Your quote", t1, "undelivered", enrollment, error_code="30003")
    t2 = t1 + timedelta(minutes=5)
    InteractionFactory(contact=contact, body="STOP", created_at=t2)
    ConsentEvent.objects.create(
        contact=contact, kind="opt_out", source="keyword", detail="STOP", occurred_at=t2
    )
    Enrollment.objects.filter(pk=enrollment.pk).update(status="opted_out", ended_at=t2)
    EnrollmentStep.objects.create(enrollment=enrollment, step_id="quoted", via="opt_out", occurred_at=t2)
    InteractionFactory(contact=ContactFactory(), body="someone else", created_at=t1)

    timeline = contact_timeline(contact=contact)

    assert [(e.kind, e.title) for e in timeline.entries] == [
        ("inbound", "Received"),
        ("enrolled", "Enrolled in Quote and buy"),
        ("step", "Quote and buy: starts in Invited"),
        ("outbound", "Step text"),
        ("inbound", "Received"),
        ("step", "Quote and buy: → Quoted"),
        ("goal", "Goal: Quote requested in Quote and buy"),
        ("outbound", "Step text"),
        ("inbound", "Received"),
        ("consent", "Opted out"),
        ("ended", "Quote and buy: opted out"),
    ]
    bubbles = [(e.body, e.status) for e in timeline.entries if e.is_message]
    assert bubbles == [
        ("hi", ""),
        ("Reply QUOTE", "delivered"),
        ("quote", ""),
        ("Your quote", "undelivered"),
        ("STOP", ""),
    ]
    assert timeline.entries[7].detail == "error 30003"
    assert timeline.entries[9].detail == "via keyword from the contact (STOP)"
    assert not timeline.truncated


def test_the_timeline_costs_six_queries_and_keeps_the_latest_ten_entries(django_assert_num_queries):
    contact = ContactFactory()
    now = timezone.now()
    for i in range(12):
        InteractionFactory(contact=contact, body=f"m{i}", created_at=now + timedelta(seconds=i))
    with django_assert_num_queries(6):
        timeline = contact_timeline(contact=contact, limit=10)
    assert timeline.truncated
    assert [e.body for e in timeline.entries] == [
        f"m{i}" for i in range(2, 12)
    ]  # the latest ten, oldest first


def test_contact_page_shows_the_timeline(admin_client):
    contact = ContactFactory()
    InteractionFactory(contact=contact, body="hello there")
    _outbound(contact, "Welcome!", timezone.now(), "delivered")
    html = admin_client.get(f"/admin/contacts/contact/{contact.pk}/change/").content.decode()
    assert 'id="contact-timeline"' in html
    assert 'class="bubble inbound"' in html and "hello there" in html
    assert 'class="bubble outbound"' in html and 'class="delivery delivery-delivered">Delivered<' in html


def test_what_a_step_did_shows_on_that_steps_own_line(admin_client, text_in):
    """The branch a split took, the field a set step wrote, the answer an ask saved: each on
    the line of the step that did it, not of the step after it."""
    plan_make(
        name="Survey",
        steps=[
            {"id": "ab", "name": "A/B", "type": "split_random", "branches": [
                {"name": "A", "weight": 1, "next": "tag"}, {"name": "B", "weight": 1, "next": "tag"}]},
            {"id": "tag", "name": "Tagged", "type": "set", "fields": {"attributes.segment": "spring"},
             "next": "rate"},
            ask("rate", "Rate us 1-5", [({"match": "number", "save_as": "attributes.score"}, "thanks")],
                name="Rated"),
            {"id": "thanks", "name": "Thanked", "type": "send", "text": "Thanks!", "next": None},
        ],
    )  # fmt: skip
    text_in("+12125550123", "hi")
    text_in("+12125550123", "4")
    contact = Contact.objects.get(phone="+12125550123")
    html = admin_client.get(f"/admin/contacts/contact/{contact.pk}/change/").content.decode()
    said = re.findall(r'<span class="what">([^<]*)</span>', html)
    branch = contact.enrollments.get().branches["ab"]
    assert f"Survey: starts in A/B (branch {branch})" in said
    assert "Survey: → Tagged (attributes.segment = spring)" in said
    assert "Survey: → Rated (attributes.score = 4)" in said
    assert "Survey: → Thanked" in said
