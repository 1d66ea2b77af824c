"""Twilio's two webhooks (docs/reference.md §3), thin doors that live here, at the top, because each
orchestrates lower apps:

- ``POST /twilio/sms/`` stores the message (tracking.services), makes the address it was
  sent to a sender when it is not one yet (messaging.senders, docs/reference.md §8) and
  hands it to routing (automation.engine.inbound);
- ``POST /twilio/status/`` applies the delivery status (messaging.services) and, when the
  carrier says the number opted out (21610), opts the contact out (automation:
  ``contact_carrier_opt_out``, as when a send is answered 21610).

It answers as soon as the message is stored (committed); routing runs on a worker (in the
request when no broker is configured)."""

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from automation.engine.consent import contact_carrier_opt_out
from automation.engine.inbound import inbound_route_enqueue
from infra.logs import log_context, log_context_add
from infra.twilio_webhooks import twilio_webhook, twiml_empty
from messaging.senders import sender_of_address
from messaging.services import delivery_status_apply
from tracking.services import InboundPayloadError, inbound_message_receive

logger = logging.getLogger(__name__)


@twilio_webhook
@log_context()  # its log lines name the message stored (docs/reference.md §9)
def inbound_sms_webhook(request: HttpRequest) -> HttpResponse:
    try:
        accepted = inbound_message_receive(payload=request.POST.dict())
    except InboundPayloadError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    log_context_add(message_id=accepted.interaction_id)
    if not accepted.duplicate:
        try:  # a known sender costs no query (cached); a new one is one INSERT, committed
            sender_of_address(accepted.to_address, create=True)
        except Exception:  # the message is stored: it is routed all the same
            logger.exception("sender %r not recorded", accepted.to_address)
        inbound_route_enqueue(interaction_id=accepted.interaction_id)
    return twiml_empty()


def _field(request: HttpRequest, name: str) -> str:
    # As text a database can store: PostgreSQL refuses NUL characters.
    return request.POST.get(name, "").replace("\x00", "").strip()


@twilio_webhook
@log_context()  # the message it is about, once known (messaging.services.delivery)
def twilio_status(request: HttpRequest) -> HttpResponse:
    sid = _field(request, "MessageSid")
    status = _field(request, "MessageStatus")
    if not sid or not status:
        return HttpResponseBadRequest("MessageSid and MessageStatus are required.", content_type="text/plain")
    # Our own message id, in the StatusCallback URL: matches a callback that arrives
    # before the send call returned the sid.
    raw_id = request.GET.get("id", "")
    outbound_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 19 else None
    applied = delivery_status_apply(
        sid=sid[:64], status=status, error_code=_field(request, "ErrorCode"), outbound_id=outbound_id
    )
    if applied.opted_out_at_carrier:
        contact_carrier_opt_out(contact_id=applied.contact_id)
    return twiml_empty()
