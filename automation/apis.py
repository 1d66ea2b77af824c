"""Twilio's inbound message webhook (CONTRACT §3): a thin door that stores the message
(tracking.services) and hands it to routing (automation.services.inbound). It lives here,
at the top, because it orchestrates both.

It answers as soon as the message is stored (committed); routing runs on a worker (in the
request when no broker is configured)."""

from django.http import HttpRequest, HttpResponse

from automation.services.inbound import inbound_route_enqueue
from smsjourney.twilio_webhooks import twilio_webhook, twiml_empty
from tracking.services import InboundPayloadError, inbound_message_receive


@twilio_webhook
def inbound_sms_webhook(request: HttpRequest) -> HttpResponse:
    try:
        accepted = inbound_message_receive(payload=request.POST.dict())
    except InboundPayloadError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    if not accepted.duplicate:
        inbound_route_enqueue(interaction_id=accepted.interaction_id)
    return twiml_empty()
