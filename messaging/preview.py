"""Previewing a text as a marketer authors it (admin live preview, plan checks): rendering,
encoding, segments and the hold of quiet hours, over the context of a sample contact that
automation builds (``automation.flow.context``, the one home of the sample)."""

from collections.abc import Mapping

from django.conf import settings

from contacts.models import Contact
from messaging.rendering import RenderError, sms_body_render, sms_template_problem
from messaging.segments import sms_segments
from messaging.services.outbound import links_untracked_reason, text_links_shorten

# How a text may go (docs/reference.md §6, §8), and what that means for its price: an SMS
# is priced per segment; an MMS (a `send` step with media) and a WhatsApp message per
# message, whatever their length.
SMS, MMS, WHATSAPP = "sms", "mms", "whatsapp"
CHANNELS = {
    SMS: ("SMS", "Priced per segment."),
    MMS: (
        "MMS",
        "Sent as an MMS (the step has media): one message, priced per message; segments do not apply.",
    ),
    WHATSAPP: (
        "WhatsApp",
        "Over WhatsApp segments do not apply: one message whatever its length. More than 24 hours "
        "after the contact last wrote on WhatsApp, the step's WhatsApp template goes instead "
        "(without one, the text fails with error 63016).",
    ),
}


def sms_template_error(*, template: str, context: Mapping) -> str | None:
    """Why `template` may not be sent (a refused tag or filter, a syntax error, too long,
    or it does not render for `context`, a sample's: ``automation.flow.context``), or None when
    it may."""
    problem = sms_template_problem(template)
    if problem:
        return problem
    try:
        sms_body_render(template=template, context=context)
    except RenderError as exc:
        return str(exc)
    return None


def sms_hold(*, now, state: str | None, zone: str) -> dict:
    """Whether a marketing text (one that does not answer the contact) sent at `now` to a
    contact in `state` (in that state's main zone; `zone` without a state) would be held by
    quiet hours and the state's hours, and until when (their time)."""
    from zoneinfo import ZoneInfo

    from messaging.state_hours import RULES, sending_hours_release_at

    rule = RULES.get(state or "")
    zone = rule.zone if rule else zone
    at, reasons = sending_hours_release_at(
        now=now,
        tz_name=zone,
        quiet_window=settings.SMS_QUIET_HOURS,
        state=state if settings.SMS_STATE_HOURS else None,
    )
    if at <= now:
        return {"held": False}
    local = at.astimezone(ZoneInfo(zone))
    return {
        "held": True,
        "until": local.strftime("%a %d %b %H:%M") + f" ({zone})",
        "because": "; ".join(reasons),
    }


def sms_preview(
    *,
    template: str,
    context: Mapping,
    contact: Contact,
    state: str | None = None,
    now=None,
    track_links: bool = False,
    channel: str = SMS,
) -> dict:
    """The text rendered over `context` (a sample's: ``automation.flow.context``) plus its
    encoding and segment count, and whether it would be held if sent now as a marketing text
    to `contact` (in `state`, if given).
    `track_links`: the text as it goes out of a plan that tracks its links (docs/reference.md §7:
    each link as ``PUBLIC_BASE_URL/l/<code>``, counted in the segments); ``links`` says how
    many.

    `channel`: how it goes (``CHANNELS``): segments apply to an SMS only (``segments_apply``),
    and ``channel_note`` says how the others are priced.

    ``{"ok": True, "body": …, "encoding": "gsm7", "segments": 1, "hold": {…}, …}`` or
    ``{"ok": False, "error": "…"}``.
    """
    channel = channel if channel in CHANNELS else SMS
    error = sms_template_problem(template)
    if error:
        return {"ok": False, "error": error}
    try:
        body = sms_body_render(template=template, context=context)
    except RenderError as exc:
        return {"ok": False, "error": str(exc)}
    from django.utils import timezone

    links = 0
    shortened = text_links_shorten(body) if track_links else None
    if shortened is not None:
        body, links = shortened.body, len(shortened.links)
    # A plan that tracks links, a text with one, and nowhere for the clicks to come back.
    links_note = links_untracked_reason() if track_links and "://" in body else ""
    hold = sms_hold(now=now or timezone.now(), state=state, zone=contact.timezone)
    return {
        "ok": True,
        "body": body,
        "links": links,
        "links_note": links_note,
        "contact": str(contact),
        "hold": hold,
        **sms_segments(body).as_dict(),
        "characters": len(body),
        "channel": channel,
        "channel_label": CHANNELS[channel][0],
        "channel_note": CHANNELS[channel][1],
        "segments_apply": channel == SMS,
    }
