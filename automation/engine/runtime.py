"""What a step kind may do to the enrollment it runs for (``automation.flow.kinds.base.
Runtime``): send a text, record a goal, read and write contact fields, set the step's
timer, take a branch, call a web service (after commit), enter another plan, and note
what happened for the step history. One ``Run`` per event over one enrollment; the
interpreter (``automation.engine.interpreter``) makes it and saves what it changed."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.utils import timezone

from automation.engine.enrollments import enrollment_text_queue
from automation.engine.revisions import flow_goal_id
from automation.flow import Event, Flow, Reply, Step
from automation.models import Enrollment, EnrollmentStep
from contacts.models import Contact
from tracking.models import Interaction

logger = logging.getLogger(__name__)

# An http step whose answer never came back (a lost task) gives up after this long.
HTTP_ANSWER_GRACE = timedelta(minutes=15)
_random = random.SystemRandom()


@dataclass
class Run:
    """One event's run over one enrollment: what a step kind may do (``Runtime``)."""

    enrollment: Enrollment
    flow: Flow
    contact: Contact
    now: datetime
    reply: Reply | None = None
    event: Event | None = None
    interaction: Interaction | None = None
    depth: int = 0
    answers_contact: bool = False
    pending_plan: str | None = None
    enrollment_changed: set[str] = field(default_factory=set)  # its fields to save
    contact_changed: set[str] = field(default_factory=set)
    detail: str = ""  # what the step running now noted: its history row's detail (the interpreter writes it)
    value: tuple[str, str] = ("", "")  # (kind, value): what moved the enrollment on (reports)

    @property
    def other_count(self) -> int:
        return self.enrollment.other_count

    def enrollment_set(self, **values) -> None:
        """Change the enrollment's fields; those whose value changed are saved when the run
        ends (``enrollment_changed``: one UPDATE of just them)."""
        enrollment = self.enrollment
        for name, value in values.items():
            if getattr(enrollment, name) != value:
                setattr(enrollment, name, value)
                self.enrollment_changed.add(name)

    def text_send(
        self,
        *,
        step: Step,
        text: str,
        media: tuple[str, ...] = (),
        purpose: str,
        whatsapp_template: dict | None = None,
    ) -> None:
        # whatsapp_template: taken, not used yet on this branch (the WhatsApp sending side
        # of issue 20 passes it on to the outbound message).
        enrollment_text_queue(
            enrollment=self.enrollment,
            contact=self.contact,
            template=text,
            purpose=purpose,
            answers_contact=self.answers_contact,
            step_id=step.id,
            media_urls=media,
        )

    def goal_convert(self, slug: str) -> None:
        from tracking.services import goal_convert

        goal_id = flow_goal_id(self.flow, slug)
        if goal_id is None:
            logger.error("plan %s: goal %r does not exist; not recorded", self.flow.slug, slug)
            return
        goal_convert(
            contact=self.contact, goal_id=goal_id, enrollment=self.enrollment, interaction=self.interaction
        )

    def field_get(self, path: str) -> Any:
        if path.startswith("attributes."):
            return (self.contact.attributes or {}).get(path.split(".", 1)[1])
        return getattr(self.contact, path, None)

    def field_set(self, path: str, value: Any) -> None:
        given, value = value, _field_value(path, value)
        if value is _REFUSED:
            logger.info("plan %s: %r is not a valid %s; not saved", self.flow.slug, given, path)
            return
        if path.startswith("attributes."):
            attributes = dict(self.contact.attributes or {})
            attributes[path.split(".", 1)[1]] = value
            self.contact.attributes = attributes
            self.contact_changed.add("attributes")
        else:
            setattr(self.contact, path, "" if value is None else str(value))
            self.contact_changed.add(path)
        self.note(f"{path} = {value}")

    def timer_set(self, at: datetime | None, *, after_prompt: timedelta | None = None) -> None:
        # An ask's silence timeout is armed when its text is sent (scheduling.enrollment_prompt_sent).
        self.enrollment_set(timeout_at=at)

    def branch_take(self, *, step: Step, name: str) -> None:
        self.enrollment_set(branches={**(self.enrollment.branches or {}), step.id: name})
        self.note(f"branch {name}")
        self.answer(EnrollmentStep.ValueKind.BRANCH, name)

    def answer(self, kind: str, value: Any) -> None:
        self.value = (kind, "" if value is None else str(value)[:200])

    def branch_taken(self, step: Step) -> str | None:
        return (self.enrollment.branches or {}).get(step.id)

    def note(self, text: str) -> None:
        self.detail = f"{self.detail}; {text}" if self.detail else text

    def random(self) -> float:
        return _random.random()

    def local_now(self) -> datetime:
        from messaging.services.policy import contact_tz

        try:
            zone = ZoneInfo(contact_tz(self.contact))
        except (ZoneInfoNotFoundError, ValueError):
            zone = timezone.get_default_timezone()
        return self.now.astimezone(zone)

    def http_call(self, *, step: Step) -> None:
        from automation.tasks import http_step_task
        from infra.background import task_enqueue

        enrollment_id, visit = self.enrollment.pk, self.enrollment.visit
        self.enrollment_set(timeout_at=self.now + HTTP_ANSWER_GRACE)
        transaction.on_commit(lambda: task_enqueue(http_step_task, args=(enrollment_id, visit)))

    def plan_enter(self, slug: str) -> None:
        self.pending_plan = slug

    def other_answered(self) -> None:
        self.enrollment_set(other_count=self.enrollment.other_count + 1)


_REFUSED = object()


def _field_value(path: str, value: Any) -> Any:
    """The value as the contact field takes it, or _REFUSED."""
    if path.startswith("attributes."):
        return value
    if value is None:
        return ""
    text = str(value).strip()
    if path == "email":
        from automation.flow.matching import email_parse

        return email_parse(text) or (_REFUSED if text else "")
    if path == "timezone":
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            return _REFUSED
        return text
    limits = {"first_name": 100, "last_name": 100, "locale": 16}
    return text[: limits.get(path, 100)]
