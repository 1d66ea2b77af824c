"""POST /twilio/status/ — Twilio's message status callback. A thin door onto
messaging.services.delivery_status_apply."""

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from messaging.services import delivery_status_apply

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _signature_valid(request: HttpRequest) -> bool:
    if not settings.TWILIO_VALIDATE_SIGNATURE:
        return True
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    # The URL Twilio called, query string included (our StatusCallback carries ?id=).
    url = settings.PUBLIC_BASE_URL + request.get_full_path()
    try:
        return RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, request.POST, signature)
    except Exception:  # an unreadable body cannot carry a valid signature
        logger.info("status callback: body unreadable", exc_info=True)
        return False


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    if not _signature_valid(request):
        logger.warning("status callback with a missing or wrong signature refused")
        return HttpResponseForbidden("Invalid Twilio signature.", content_type="text/plain")
    sid = request.POST.get("MessageSid", "").strip()
    status = request.POST.get("MessageStatus", "").strip()
    if not sid or not status:
        return HttpResponseBadRequest("MessageSid and MessageStatus are required.", content_type="text/plain")
    raw_id = request.GET.get("id", "")
    outbound_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 19 else None
    delivery_status_apply(
        sid=sid[:64],
        status=status,
        error_code=request.POST.get("ErrorCode", "").strip(),
        outbound_id=outbound_id,
    )
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
