"""POST /twilio/status/ — Twilio's message status callback. A thin door onto
messaging.services.delivery_status_apply."""

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from messaging.services import delivery_status_apply
from smsjourney.twilio_webhooks import twilio_webhook, twiml_empty


@twilio_webhook
def twilio_status(request: HttpRequest) -> HttpResponse:
    sid = request.POST.get("MessageSid", "").strip()
    status = request.POST.get("MessageStatus", "").strip()
    if not sid or not status:
        return HttpResponseBadRequest("MessageSid and MessageStatus are required.", content_type="text/plain")
    # Our own message id, in the StatusCallback URL: matches a callback that arrives
    # before the send call returned the sid.
    raw_id = request.GET.get("id", "")
    outbound_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 19 else None
    delivery_status_apply(
        sid=sid[:64],
        status=status,
        error_code=request.POST.get("ErrorCode", "").strip(),
        outbound_id=outbound_id,
    )
    return twiml_empty()
