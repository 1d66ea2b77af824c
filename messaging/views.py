"""The text preview a marketer uses while writing (the plan page's "Preview a text" box):
a template rendered for the sample contact, with its encoding and segment count.
Wired in smsjourney/urls.py under the admin, for users who may edit plans."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from messaging.preview import sms_preview

# A body longer than this is not previewed (an SMS is never near it; keeps the view cheap).
PREVIEW_MAX_CHARS = 5000


@require_POST
def sms_preview_view(request: HttpRequest) -> JsonResponse:
    """POST body=<template> [state=FL] [track_links=1] → the text rendered for the sample
    contact (its links as tracked ones with track_links), encoding, segments, and whether a
    marketing text sent now would be held (to a contact in `state`)."""
    template = request.POST.get("body", "")
    if len(template) > PREVIEW_MAX_CHARS:
        return JsonResponse(
            {"ok": False, "error": f"The text is longer than {PREVIEW_MAX_CHARS} characters."}
        )
    state = request.POST.get("state", "").strip().upper()[:2] or None
    track_links = request.POST.get("track_links") == "1"
    return JsonResponse(sms_preview(template=template, state=state, track_links=track_links))
