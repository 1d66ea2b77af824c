"""The plan page's "Preview a text" box (wired in smsjourney/urls.py for users who may edit
plans): a text rendered for the sample contact (``automation.flow.context``, the context a
real text gets), with its encoding, segments and whether quiet hours would hold it
(messaging's ``sms_preview``)."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from automation.flow.context import sample_contact, sample_text_context
from messaging.preview import CHANNELS, SMS, sms_preview

# A body longer than this is not previewed (an SMS is never near it; keeps the view cheap).
PREVIEW_MAX_CHARS = 5000


@require_POST
def sms_preview_view(request: HttpRequest) -> JsonResponse:
    """POST body=<template> [state=FL] [track_links=1] [channel=sms|mms|whatsapp] → the text
    rendered for the sample contact (its links as tracked ones with track_links), encoding,
    segments (an SMS's; an MMS and a WhatsApp message are priced per message), and whether a
    marketing text sent now would be held (to a contact in `state`)."""
    template = request.POST.get("body", "")
    if len(template) > PREVIEW_MAX_CHARS:
        return JsonResponse(
            {"ok": False, "error": f"The text is longer than {PREVIEW_MAX_CHARS} characters."}
        )
    state = request.POST.get("state", "").strip().upper()[:2] or None
    track_links = request.POST.get("track_links") == "1"
    channel = request.POST.get("channel", SMS)
    contact = sample_contact()
    return JsonResponse(
        sms_preview(
            template=template,
            context=sample_text_context(contact=contact),
            contact=contact,
            state=state,
            track_links=track_links,
            channel=channel if channel in CHANNELS else SMS,
        )
    )
