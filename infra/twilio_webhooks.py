"""What Twilio's webhooks (inbound messages, status callbacks) share: the signature check
with twilio's own RequestValidator, and the empty TwiML answer."""

import functools
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def twiml_empty() -> HttpResponse:
    """200 with an empty TwiML document: replies never go in it (they are sent through the
    REST API, so that every one is tracked)."""
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


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
    """Whether X-Twilio-Signature signs the URL Twilio called (query string included) and
    the POST params."""
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
        logger.info("Twilio webhook %s: body unreadable", request.path, exc_info=True)
        return False


def twilio_webhook(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """A view Twilio calls: POST only, no CSRF token (the signature stands for it), and
    403 with nothing done unless the request is signed with our auth token."""

    @csrf_exempt
    @require_POST
    @functools.wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        if not twilio_signature_valid(request):
            logger.warning(
                "Twilio webhook %s: bad or missing signature from %s",
                request.path,
                request.META.get("REMOTE_ADDR"),
            )
            return HttpResponseForbidden("Invalid Twilio signature.", content_type="text/plain")
        account = request.POST.get("AccountSid", "")
        if settings.TWILIO_ACCOUNT_SID and account and account != settings.TWILIO_ACCOUNT_SID:
            # Signed with our auth token but for another account: a misconfiguration (a
            # number of another account pointed here, a token shared between accounts).
            logger.error(
                "Twilio webhook %s: AccountSid %s is not ours (%s); refused",
                request.path,
                account[:40],
                settings.TWILIO_ACCOUNT_SID,
            )
            return HttpResponseForbidden("AccountSid does not match.", content_type="text/plain")
        return view(request)

    return wrapper
