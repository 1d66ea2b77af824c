"""Twilio's error 21610 (the number opted out at the carrier) means the same whichever way it
comes (automation.engine.consent.contact_carrier_opt_out): the answer to a send, or a
status callback about a message already sent. The contact is opted out as by any opt-out,
in one transaction: one consent log row, its journeys ended, its unsent messages canceled."""

import pytest
import responses
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automation.models import Enrollment, EnrollmentStep
from contacts.models import ConsentEvent, Contact
from contacts.tests.factories import ContactFactory
from messaging.models import DeliveryStatus, OutboundMessage
from messaging.services import outbound_queue
from messaging.tests.conftest import created, error, messages_url

pytestmark = pytest.mark.django_db

SID = "SM" + "6" * 32


def _held_message(contact) -> OutboundMessage:
    """A marketing text of the contact waiting for the end of quiet hours (never sent here)."""
    held = outbound_queue(contact=contact, body="Our sale starts soon", purpose="bulk", answers_contact=False)
    OutboundMessage.objects.filter(pk=held.pk).update(status=DeliveryStatus.HELD)
    return held


def _by_send(phone, text_in, twilio, twilio_api):
    """The contact texts the demo plan; Twilio answers its first question with 21610."""
    twilio_api.add(
        responses.POST, messages_url(), **error(400, 21610, "Attempt to send to unsubscribed recipient")
    )
    text_in(phone, "hi")


def _by_status_callback(phone, text_in, twilio, twilio_api):
    """The contact texts the demo plan; Twilio takes its first question, then its status
    callback says the carrier refused it: 21610."""
    twilio_api.add(responses.POST, messages_url(), **created(sid=SID))
    text_in(phone, "hi")
    assert Enrollment.objects.get(contact__phone=phone).status == Enrollment.Status.ACTIVE
    payload = {"MessageSid": SID, "MessageStatus": "failed", "ErrorCode": "21610", "To": phone}
    assert twilio.post("/twilio/status/", payload).status_code == 200


def _what_the_opt_out_did(contact: Contact) -> dict:
    contact.refresh_from_db()
    return {
        "opted out": contact.opted_out,
        "consent log": list(
            ConsentEvent.objects.filter(contact=contact).values_list(
                "kind", "source", "detail", "text", "rule"
            )
        ),
        "journeys": list(Enrollment.objects.filter(contact=contact).values_list("status", "end_reason")),
        "steps": list(
            EnrollmentStep.objects.filter(enrollment__contact=contact).values_list("step_id", "via")
        ),
        "the question": list(
            OutboundMessage.objects.filter(contact=contact, purpose="prompt").values_list(
                "status", "error_code"
            )
        ),
        "the held text": list(
            OutboundMessage.objects.filter(contact=contact, purpose="bulk").values_list(
                "status", "error_message"
            )
        ),
    }


def _one_transaction(queries: list[dict]) -> bool:
    """Whether the consent log row and the end of the journey were written in one
    transaction: between them the outermost block (a savepoint here, the test running in a
    transaction of its own; a transaction in production) is never closed."""
    depth, logged = 0, False
    for sql in (query["sql"] for query in queries):
        if sql.startswith("SAVEPOINT"):
            depth += 1
        elif sql.startswith(("RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            depth -= 1
            if logged and depth == 0:
                return False
        elif sql.startswith("INSERT") and ConsentEvent._meta.db_table in sql:
            logged = True
        elif logged and sql.startswith("UPDATE") and Enrollment._meta.db_table in sql:
            return True
    return False


@pytest.mark.parametrize("path", [_by_send, _by_status_callback], ids=["send", "status callback"])
def test_21610_opts_the_contact_out_in_one_transaction(path, demo_plan, text_in, twilio, twilio_api):
    phone = "+12125550142"
    contact = ContactFactory(phone=phone)
    _held_message(contact)
    with CaptureQueriesContext(connection) as captured:
        path(phone, text_in, twilio, twilio_api)

    assert _what_the_opt_out_did(contact) == {
        "opted out": True,
        "consent log": [("opt_out", "carrier", "21610", "", "")],
        "journeys": [(Enrollment.Status.OPTED_OUT, "Opted out (carrier: 21610)")],
        "steps": [("invited", EnrollmentStep.Via.ENROLL), ("invited", EnrollmentStep.Via.OPT_OUT)],
        "the question": [(DeliveryStatus.FAILED, "21610")],
        "the held text": [(DeliveryStatus.CANCELED, "Contact opted out.")],
    }
    assert _one_transaction(captured.captured_queries)
