"""The per-process graph cache (automation.graph): routing reads the plans' graph once, and
an edit — through the admin, a service, or straight SQL that no signal sees — is routed
by the very next message (the graph stamp changes with the edit, in its transaction)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from automation.graph import graph_token
from automation.models import Enrollment, Plan, PlanGraphStamp, PlanState, Transition
from automation.services.plans import plan_pause
from automation.tests.test_admin_plans import post_change, transition_rows
from conftest import inbound_payload
from contacts.models import Contact
from messaging.models import SmsMessage
from tracking.models import Goal

pytestmark = pytest.mark.django_db

PHONE = "+12125550123"
OTHER = "+12125550124"
QUOTE = "Your quote: 15% off your next order. Reply BUY to claim it."


def sent_to(outbox, phone=PHONE) -> list[str]:
    return [m.body for m in outbox if m.to == phone]


def state_of(phone: str) -> str:
    return Enrollment.objects.get(contact__phone=phone, status="active").current_state.name


@pytest.fixture
def routed_queries(twilio, django_capture_on_commit_callbacks):
    """The SQL of one webhook request (the sends on commit not run)."""

    def send(phone: str, body: str) -> list[str]:
        with CaptureQueriesContext(connection) as ctx, django_capture_on_commit_callbacks(execute=False):
            assert twilio.post("/twilio/sms/", inbound_payload(phone, body)).status_code == 200
        return [q["sql"] for q in ctx.captured_queries]

    return send


def graph_reads(queries: list[str]) -> list[str]:
    tables = (PlanState._meta.db_table, Transition._meta.db_table)
    return [sql for sql in queries if any(t in sql for t in tables)]


def test_a_reply_reads_the_graph_only_after_an_edit(demo_plan, routed_queries):
    assert len(graph_reads(routed_queries(PHONE, "Hello"))) == 1  # cold: one query reads it all
    assert graph_reads(routed_queries(PHONE, "what?")) == []  # fallback, routed from the cache
    assert graph_reads(routed_queries(PHONE, "QUOTE")) == []

    PlanState.objects.filter(plan=demo_plan, name="Invited").update(fallback_text="Say QUOTE, please.")
    assert len(graph_reads(routed_queries(OTHER, "Hello"))) == 1


def test_a_transition_keyword_edited_in_the_admin_routes_the_next_message(
    demo_plan, text_in, admin_client, sms_outbox
):
    text_in(PHONE, "Hello")  # Invited; the graph is cached
    transitions = transition_rows(demo_plan)
    for row in transitions:
        if row["pattern"] == "QUOTE" and row["from_state"].name == "Invited":
            row["pattern"] = "PRICE"
    assert post_change(admin_client, demo_plan, transitions=transitions).status_code == 302

    text_in(PHONE, "QUOTE")
    assert state_of(PHONE) == "Invited"  # the old keyword moves nothing any more
    text_in(PHONE, "price")
    assert state_of(PHONE) == "Quoted"
    assert sent_to(sms_outbox)[-1] == QUOTE


def test_a_message_text_edited_in_the_admin_is_sent_by_the_next_message(
    demo_plan, text_in, admin_client, sms_outbox
):
    text_in(PHONE, "Hello")
    quote = PlanState.objects.get(plan=demo_plan, name="Quoted").message
    response = admin_client.post(
        reverse("admin:messaging_smsmessage_change", args=[quote.pk]),
        {"name": quote.name, "body": "Fresh quote: 20% off. Reply BUY.", "media_url": ""},
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    text_in(PHONE, "QUOTE")
    assert sent_to(sms_outbox)[-1] == "Fresh quote: 20% off. Reply BUY."


def test_edits_no_signal_sees_are_routed_by_the_next_message(demo_plan, text_in, sms_outbox):
    """QuerySet.update() sends no signal: the stamp is a database trigger's doing."""
    text_in(PHONE, "Hello")
    before = graph_token()
    Goal.objects.filter(states__plan=demo_plan, states__name="Quoted").update(points=33)
    SmsMessage.objects.filter(states__plan=demo_plan, states__name="Quoted").update(
        body="Q {{ contact.phone }}"
    )
    Transition.objects.filter(plan=demo_plan, from_state__name="Invited").update(pattern="DEAL")
    assert graph_token() != before

    text_in(PHONE, "QUOTE")
    assert state_of(PHONE) == "Invited"
    text_in(PHONE, "deal")
    assert state_of(PHONE) == "Quoted"
    assert sent_to(sms_outbox)[-1] == f"Q {PHONE}"
    assert Contact.objects.get(phone=PHONE).engagement_value == 33


def test_a_paused_plan_enrolls_nobody_from_the_next_message(demo_plan, text_in):
    text_in(PHONE, "Hello")  # entry plans cached
    plan_pause(plan=demo_plan)
    text_in(OTHER, "Hello")
    assert not Enrollment.objects.filter(contact__phone=OTHER).exists()
    assert Contact.objects.filter(phone=OTHER).exists()  # the message itself is recorded


def test_every_write_to_the_graph_changes_the_stamp_even_in_one_transaction(demo_plan):
    seen = {graph_token()}
    for write in (
        lambda: Plan.objects.filter(pk=demo_plan.pk).update(description="x"),
        lambda: PlanState.objects.filter(plan=demo_plan).update(position=7),
        lambda: Transition.objects.filter(plan=demo_plan).update(priority=3),
        lambda: SmsMessage.objects.update(media_url=""),
        lambda: Goal.objects.update(description="y"),
        lambda: Transition.objects.filter(plan=demo_plan, pattern="BUY").delete(),
    ):
        write()
        seen.add(graph_token())
    assert len(seen) == 7  # the test runs in one transaction: each statement still moves it


def test_without_a_stamp_row_nothing_is_cached_and_routing_still_works(demo_plan, routed_queries):
    PlanGraphStamp.objects.all().delete()  # as after a flush
    routed_queries(PHONE, "Hello")
    PlanGraphStamp.objects.all().delete()
    assert len(graph_reads(routed_queries(PHONE, "QUOTE"))) == 1  # read afresh, not cached
    assert state_of(PHONE) == "Quoted"
    assert len(graph_reads(routed_queries(PHONE, "BUY"))) == 1
    assert Enrollment.objects.get(contact__phone=PHONE).status == "completed"
