"""Plans for tests are made as a marketer makes them: a document in the CONTRACT §6 format,
imported (and published) through ``plan_import``. Enrollments: a bare row
(``EnrollmentFactory``), or the one a contact's texts made (``the_enrollment``)."""

import itertools
from datetime import timedelta

import factory
from django.utils import timezone

from automation.models import Enrollment, HttpSecret, Plan
from contacts.tests.factories import ContactFactory

_numbers = itertools.count(1)


def ask(step_id: str, text: str = "", rules=(), **extra) -> dict:
    """An ask step; `rules` as (words or rule dict, next)."""
    made = []
    for rule, target in rules:
        if isinstance(rule, str):
            rule = {"match": "keyword", "words": [rule]}
        made.append({**rule, "next": target})
    return {"id": step_id, "type": "ask", "text": text, "rules": made, **extra}


def send(step_id: str, text: str, next_step=None, **extra) -> dict:
    return {"id": step_id, "type": "send", "text": text, "next": next_step, **extra}


def plan_document(*, steps=None, slug: str | None = None, start: str | None = None, **top) -> dict:
    """A valid document: by default one ask step that waits for NEXT, then a send."""
    number = next(_numbers)
    steps = steps or [ask("start", "Reply NEXT.", [("NEXT", "done")]), send("done", "Done.")]
    return {
        "format": "smsjourney.plan/1",
        "slug": slug or f"plan-{number}",
        "name": top.pop("name", f"Plan {number}"),
        "entry": top.pop("entry", {"trigger": "any"}),
        "start": start or steps[0]["id"],
        "steps": steps,
        **top,
    }


def plan_make(*, status: str = Plan.Status.ACTIVE, publish: bool = True, **kwargs) -> Plan:
    """Import (and publish) a plan from `plan_document(**kwargs)`; then set its status."""
    from automation.services.plans import plan_import

    plan = plan_import(document=plan_document(**kwargs), draft=not publish).plan
    Plan.objects.filter(pk=plan.pk).update(status=status)
    return Plan.objects.select_related("published").get(pk=plan.pk)


class EnrollmentFactory(factory.django.DjangoModelFactory):
    """A bare active enrollment row at the start of a published plan (no texts sent): use
    the services for real journeys."""

    class Meta:
        model = Enrollment

    contact = factory.SubFactory(ContactFactory)
    plan = factory.LazyFunction(plan_make)
    revision = factory.LazyAttribute(lambda o: o.plan.published)
    step_id = factory.LazyAttribute(lambda o: o.revision.document["start"])
    enrolled_at = factory.LazyFunction(timezone.now)
    step_entered_at = factory.LazyAttribute(lambda o: o.enrolled_at)
    expires_at = factory.LazyAttribute(lambda o: o.enrolled_at + timedelta(days=7))


def the_enrollment(phone: str, **filters) -> Enrollment:
    """The contact's one enrollment (of those matching `filters`), as it is now."""
    return Enrollment.objects.get(contact__phone=phone, **filters)


class HttpSecretFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HttpSecret

    name = factory.Sequence(lambda n: f"api-key-{n}")
    value = "Bearer test-value"
