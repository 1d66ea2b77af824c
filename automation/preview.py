"""What a marketer's text is checked and previewed against: the sample contact enrolled in a
sample plan, given to the text through the very function a real text's context comes from
(``automation.services.enrollments.enrollment_text_context``) — so every value a real text
can show, the preview shows, and a plan check refuses only what would not render for a real
contact either.

The plan page's "Preview a text" box (``sms_preview_view``, wired in smsjourney/urls.py for
users who may edit plans) and the plan checks (``text_template_error``) use it; rendering,
encoding, segments and the hold of quiet hours are messaging's (``messaging.preview``)."""

import functools

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_POST

from automation.flow import Flow, flow_build
from automation.models import Enrollment
from automation.services.enrollments import enrollment_text_context
from contacts.models import Contact
from messaging.preview import sms_preview, sms_template_error

# A body longer than this is not previewed (an SMS is never near it; keeps the view cheap).
PREVIEW_MAX_CHARS = 5000

# The plan the sample contact is enrolled in, in normal form (as a revision stores it).
SAMPLE_PLAN = {
    "slug": "sample-plan",
    "name": "Sample plan",
    "entry": {"trigger": "none"},
    "reentry": "after_end",
    "interrupts_other_plans": False,
    "lifetime": "P7D",
    "expiry_text": "",
    "track_links": False,
    "goals": [],
    "start": "sample-step",
    "steps": [{"id": "sample-step", "name": "Sample step", "type": "send", "text": "", "next": None}],
}


def sample_contact() -> Contact:
    """An unsaved contact with every usual field filled, to render templates against."""
    return Contact(
        phone="+12125550123",
        first_name="Alex",
        last_name="Sample",
        email="alex@example.com",
        timezone="America/New_York",
        locale="en-US",
        attributes={"city": "New York"},
    )


@functools.cache
def _sample_flow() -> Flow:
    return flow_build(SAMPLE_PLAN, revision=1)


def sample_text_context(*, contact: Contact | None = None) -> dict:
    """What a text sees for `contact` (the sample contact by default) enrolled now in the
    sample plan, at its step: the context of a real text, built the same way."""
    flow, now = _sample_flow(), timezone.now()
    enrollment = Enrollment(
        step_id=flow.start, enrolled_at=now, step_entered_at=now, expires_at=now + flow.lifetime, branches={}
    )
    return enrollment_text_context(enrollment=enrollment, contact=contact or sample_contact(), flow=flow)


def text_template_error(*, template: str) -> str | None:
    """Why `template` may not be sent (a refused tag or filter, a syntax error, too long, or
    it does not render for the sample contact), or None when it may."""
    return sms_template_error(template=template, context=sample_text_context())


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
    contact = sample_contact()
    return JsonResponse(
        sms_preview(
            template=template,
            context=sample_text_context(contact=contact),
            contact=contact,
            state=state,
            track_links=track_links,
        )
    )
