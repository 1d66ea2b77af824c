"""Twilio's inbound message webhook: a thin door onto tracking.services (CONTRACT §3)."""

import functools
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from tracking.services import InboundPayloadError, inbound_message_receive

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@functools.lru_cache(maxsize=4)
def _validator(token: str) -> RequestValidator:
    """One validator per auth token and process."""
    return RequestValidator(token)


class _SignedParams(dict):
    """The POST params as name → list of values, with the ``getall`` RequestValidator looks
    for first (as on a Flask MultiDict): every value of a repeated name is signed, and no
    AttributeError is raised and caught per parameter, as happens with a QueryDict."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def twilio_signature_valid(request: HttpRequest) -> bool:
    """Whether X-Twilio-Signature signs the public URL Twilio called and the POST params."""
    if not settings.TWILIO_VALIDATE_SIGNATURE:
        return True  # settings allow this only with DEBUG=1
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    query = request.META.get("QUERY_STRING", "")
    # The URL Twilio called: the public origin (we may sit behind a proxy), else our own.
    base = settings.PUBLIC_BASE_URL or f"{request.scheme}://{request.get_host()}"
    url = base + request.path + (f"?{query}" if query else "")
    try:
        params = _SignedParams(request.POST.lists())
        return _validator(settings.TWILIO_AUTH_TOKEN).validate(url, params, signature)
    except Exception:  # an unreadable body cannot carry a valid signature
        logger.info("inbound webhook: body unreadable", exc_info=True)
        return False


@csrf_exempt
@require_POST
def inbound_sms_webhook(request: HttpRequest) -> HttpResponse:
    if not twilio_signature_valid(request):
        logger.warning("inbound webhook: bad or missing signature from %s", request.META.get("REMOTE_ADDR"))
        return HttpResponseForbidden("Invalid signature.", content_type="text/plain")
    try:
        inbound_message_receive(payload=request.POST.dict())
    except InboundPayloadError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
