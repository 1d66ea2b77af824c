"""What a contact's page shows (docs/cockpit.md, "The contact's page"): who they are — phone,
name, marketing consent and opt-out, their attributes as a table, the journeys they are
in — beside their timeline (automation.cockpit.timeline). Read-only: editing is the
admin's form, one click away (`ContactCockpitMixin` in automation.cockpit.contact_pages).
Three queries of its own on top of the timeline's six."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, IntegerField, Value, When

from automation.engine.revisions import step_name
from automation.models import Enrollment, EnrollmentStatus
from contacts.models import ConsentEvent, Contact

# The journeys listed (active first, then the latest); the full list is one link away.
MAX_JOURNEYS = 20


@dataclass(frozen=True)
class Journey:
    enrollment: Enrollment
    step: str  # the step it is at (or ended at), by name

    @property
    def is_active(self) -> bool:
        return self.enrollment.status == EnrollmentStatus.ACTIVE


@dataclass(frozen=True)
class Consent:
    """The contact's marketing consent, as the page says it."""

    state: str  # "given", "none" or "opted_out" (the CSS class says it too)
    words: str
    since: datetime | None
    last: ConsentEvent | None  # the latest change in the consent log


def attribute_text(value) -> str:
    """An attribute's value as a person reads it: text as it is, yes/no, lists by commas."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def contact_attributes(contact: Contact) -> list[tuple[str, str]]:
    """The attributes as rows (name, value), by name; a nested object's fields each on a
    row of their own (`address.city`)."""
    rows: list[tuple[str, str]] = []

    def add(prefix: str, values: dict) -> None:
        for name, value in sorted(values.items(), key=lambda item: str(item[0])):
            if isinstance(value, dict) and value:
                add(f"{prefix}{name}.", value)
            else:
                rows.append((f"{prefix}{name}", attribute_text(value)))

    add("", contact.attributes if isinstance(contact.attributes, dict) else {})
    return rows


def contact_consent(contact: Contact) -> Consent:
    last = contact.consent_events.select_related("actor").order_by("-occurred_at", "-id").first()
    if contact.opted_out:
        return Consent("opted_out", "Opted out: no texts", contact.opted_out_at, last)
    if contact.consent_at is not None:
        return Consent("given", "Marketing consent given", contact.consent_at, last)
    return Consent("none", "No marketing consent on record", None, last)


def contact_journeys(contact: Contact, *, limit: int = MAX_JOURNEYS) -> tuple[list[Journey], bool]:
    """The plans the contact is in (active first, then the latest), and whether there are
    more than `limit`."""
    active_first = Case(
        When(status=EnrollmentStatus.ACTIVE, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    enrollments = list(
        Enrollment.objects.filter(contact=contact)
        .select_related("plan")
        .order_by(active_first, "-enrolled_at", "-id")[: limit + 1]
    )
    journeys = [
        Journey(e, step_name(revision_id=e.revision_id, step_id=e.step_id) if e.step_id else "—")
        for e in enrollments[:limit]
    ]
    return journeys, len(enrollments) > limit
