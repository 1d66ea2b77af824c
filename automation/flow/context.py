"""What a marketer's text sees (docs/reference.md §6: "Texts are Django templates over
`contact` … and `enrollment`"): the one home of a text's context, for the texts an
enrollment sends (``automation.engine.enrollments``) and for the sample every text is
checked and previewed against — so every value a real text can show, the preview shows,
and a plan check refuses only what would not render for a real contact either.

Plain values only (messaging.rendering: never a model instance). Pure: the caller gives
the enrollment (any object with its fields), its contact and its revision's Flow."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from automation.flow.document import Flow, flow_build
from contacts.models import Contact
from contacts.selectors import contact_template_values
from messaging.preview import sms_template_error


def text_context(*, enrollment, contact: Contact, flow: Flow) -> dict:
    """The context of a text `enrollment` (of revision `flow`) sends to `contact`: the
    contact's own values and the enrollment's plan, revision and step."""
    step = flow.steps.get(enrollment.step_id)
    return {
        "contact": contact_template_values(contact),
        "enrollment": {
            "plan": {"name": flow.name, "slug": flow.slug},
            "state": step.name if step is not None else enrollment.step_id,
            "step": enrollment.step_id,
            "revision": flow.revision,
            "status": enrollment.status,
            "enrolled_at": enrollment.enrolled_at,
            "expires_at": enrollment.expires_at,
            "branches": dict(enrollment.branches or {}),
        },
    }


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


@dataclass(frozen=True)
class SampleEnrollment:
    """The sample contact's enrollment in the sample plan, enrolled just now."""

    enrolled_at: datetime
    expires_at: datetime
    step_id: str = "sample-step"
    status: str = "active"
    branches: dict = field(default_factory=dict)


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
    sample plan: the context of a real text, built the same way."""
    flow, now = _sample_flow(), timezone.now()
    enrollment = SampleEnrollment(enrolled_at=now, expires_at=now + flow.lifetime)
    return text_context(enrollment=enrollment, contact=contact or sample_contact(), flow=flow)


def text_template_error(*, template: str) -> str | None:
    """Why `template` may not be sent (a refused tag or filter, a syntax error, too long, or
    it does not render for the sample contact), or None when it may."""
    return sms_template_error(template=template, context=sample_text_context())
