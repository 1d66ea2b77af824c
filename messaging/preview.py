"""Previewing an SMS message type as a marketer authors it (admin live preview, plan checks)."""

from contacts.models import Contact
from messaging.rendering import RenderError, sms_body_render
from messaging.segments import sms_segments


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


def sms_template_error(*, template: str, enrollment=None) -> str | None:
    """Why `template` does not render for the sample contact, or None when it does."""
    try:
        sms_body_render(template=template, contact=sample_contact(), enrollment=enrollment)
    except RenderError as exc:
        return str(exc)
    return None


def sms_preview(*, template: str, enrollment=None) -> dict:
    """The rendered text for the sample contact plus its encoding and segment count.

    ``{"ok": True, "body": …, "encoding": "gsm7", "segments": 1, …}`` or
    ``{"ok": False, "error": "The message template does not render: …"}``.
    """
    contact = sample_contact()
    try:
        body = sms_body_render(template=template, contact=contact, enrollment=enrollment)
    except RenderError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "body": body, "contact": str(contact), **sms_segments(body).as_dict()}
