"""Previewing a text as a marketer authors it (admin live preview, plan checks)."""

from contacts.models import Contact
from contacts.selectors import contact_template_values
from messaging.rendering import RenderError, sms_body_render, sms_template_problem
from messaging.segments import sms_segments

# What an enrollment looks like to a template when there is none to show (a preview).
SAMPLE_ENROLLMENT = {
    "plan": {"name": "Sample plan", "slug": "sample-plan"},
    "state": "Sample step",
    "step": "sample-step",
    "revision": 1,
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


def sample_context() -> dict:
    return {"contact": contact_template_values(sample_contact()), "enrollment": SAMPLE_ENROLLMENT}


def sms_template_error(*, template: str) -> str | None:
    """Why `template` may not be sent (a refused tag or filter, a syntax error, too long,
    or it does not render for the sample contact), or None when it may."""
    problem = sms_template_problem(template)
    if problem:
        return problem
    try:
        sms_body_render(template=template, context=sample_context())
    except RenderError as exc:
        return str(exc)
    return None


def sms_preview(*, template: str) -> dict:
    """The rendered text for the sample contact plus its encoding and segment count.

    ``{"ok": True, "body": …, "encoding": "gsm7", "segments": 1, …}`` or
    ``{"ok": False, "error": "…"}``.
    """
    error = sms_template_problem(template)
    if error:
        return {"ok": False, "error": error}
    contact = sample_contact()
    try:
        body = sms_body_render(template=template, context=sample_context())
    except RenderError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "body": body, "contact": str(contact), **sms_segments(body).as_dict()}
