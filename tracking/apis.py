"""Twilio's inbound message webhook: a thin door onto tracking.services (CONTRACT §3).

It answers as soon as the message is stored (committed); the journey engine routes it on
a worker (in-process when no broker is configured)."""

from django.http import HttpRequest, HttpResponse

from smsjourney.twilio_webhooks import twilio_webhook, twiml_empty
from tracking.services import InboundPayloadError, inbound_message_receive


@twilio_webhook
def inbound_sms_webhook(request: HttpRequest) -> HttpResponse:
    try:
        inbound_message_receive(payload=request.POST.dict())
    except InboundPayloadError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    return twiml_empty()
