"""POST /twilio/status/ — Twilio's message status callback. A thin door onto
messaging.services.delivery_status_apply."""

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from messaging.services import delivery_status_apply
from smsjourney.twilio_webhooks import twilio_webhook, twiml_empty


def _field(request: HttpRequest, name: str) -> str:
    # As text a database can store: PostgreSQL refuses NUL characters.
    return request.POST.get(name, "").replace("\x00", "").strip()


@twilio_webhook
def twilio_status(request: HttpRequest) -> HttpResponse:
    sid = _field(request, "MessageSid")
    status = _field(request, "MessageStatus")
    if not sid or not status:
        return HttpResponseBadRequest("MessageSid and MessageStatus are required.", content_type="text/plain")
    # Our own message id, in the StatusCallback URL: matches a callback that arrives
    # before the send call returned the sid.
    raw_id = request.GET.get("id", "")
    outbound_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 19 else None
    delivery_status_apply(
        sid=sid[:64],
        status=status,
        error_code=_field(request, "ErrorCode"),
        outbound_id=outbound_id,
    )
    return twiml_empty()
