"""Plans for tests are made as a marketer makes them: a document in the docs/reference.md §6 format
(``plan_document``, or ``EVERYTHING``: every step type in one working plan), imported (and
published) through ``plan_import``. Enrollments: a bare row (``EnrollmentFactory``), or the
one a contact's texts made (``the_enrollment``)."""

import copy
import itertools
import json
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


# Every step type, every ask match kind, every split_field op: a plan that works (that it
# holds every registered kind is checked in test_kinds.py).
EVERYTHING = {
    "format": "smsjourney.plan/1",
    "slug": "everything",
    "name": "Everything",
    "description": "Every step type.",
    "entry": {"trigger": "keyword", "keywords": ["ALL"], "sender": None},
    "reentry": "never",
    "interrupts_other_plans": False,
    "lifetime": "P14D",
    "expiry_text": "Bye {{ contact.first_name }}.",
    "track_links": True,
    "goals": [
        {"slug": "answered", "name": "Answered", "points": 3, "event": None},
        {"slug": "bought", "name": "Bought", "points": 20, "event": "purchase"},
    ],
    "start": "hello",
    "steps": [
        {"id": "hello", "name": "Hello", "type": "send", "text": "Hi {{ contact.first_name }}!",
         "media": ["https://example.com/a.png"], "next": "ab"},
        {"id": "ab", "type": "split_random", "branches": [
            {"name": "A", "weight": 50, "next": "ask"}, {"name": "B", "weight": 50.5, "next": "segment"}]},
        {"id": "segment", "type": "split_field", "field": "attributes.tier", "cases": [
            {"op": "eq", "value": "vip", "next": "tag"}, {"op": "ne", "value": "x", "next": "ask"},
            {"op": "lt", "value": 3, "next": "ask"}, {"op": "le", "value": 3, "next": "ask"},
            {"op": "gt", "value": 3, "next": "ask"}, {"op": "ge", "value": 3, "next": "ask"},
            {"op": "contains", "value": "v", "next": "ask"}, {"op": "in", "value": ["a", "b"], "next": "ask"},
            {"op": "set", "next": "ask"}, {"op": "unset", "next": "ask"}], "default": "ask"},
        {"id": "tag", "type": "set", "fields": {"attributes.segment": "spring", "first_name": "Ann"},
         "next": "ask"},
        {"id": "ask", "name": "Asked", "type": "ask", "text": "Rate us 1-5, or send your email.",
         "goal": "answered",
         "rules": [
             {"match": "keyword", "words": ["STAR", "TOP"], "next": "wait"},
             {"match": "first_word", "words": ["LATER"], "next": "pause"},
             {"match": "contains", "words": ["HELLO"], "next": "wait"},
             {"match": "regex", "pattern": "^[0-9]{5}$", "save_as": "attributes.zip", "next": "wait"},
             {"match": "number", "min": 1, "max": 5, "save_as": "attributes.score", "next": "call"},
             {"match": "email", "save_as": "email", "goal": "answered", "next": "wait"},
             {"match": "phone", "save_as": "attributes.other_phone", "next": "wait"},
             {"match": "date", "save_as": "attributes.birthday", "next": "wait"},
             {"match": "any", "save_as": "attributes.said", "next": "wait"}],
         "other": {"text": "Please reply 1-5.", "repeat": 2, "next": None},
         "timeout": {"after": "PT2H", "next": "pause"}},
        {"id": "pause", "type": "delay", "for": "PT30M", "next": "morning"},
        {"id": "morning", "type": "delay", "until": "09:30", "next": "ask"},
        {"id": "call", "type": "http", "method": "POST", "url": "https://api.example.com/score",
         "body": {"phone": "{{ contact.phone }}"},
         "headers": {"X-Key": "k", "Authorization": {"secret": "shop-key"}},
         "save": {"attributes.points": "data.points"}, "next": "wait", "on_failure": "wait"},
        {"id": "wait", "type": "wait_event", "event": "purchase", "goal": "bought", "next": "more",
         "timeout": {"after": "P3D", "next": None}},
        {"id": "more", "type": "enter_plan", "plan": "another-plan"},
    ],
}  # fmt: skip


def mutate(change) -> dict:
    """A copy of EVERYTHING with `change(document)` made to it."""
    document = copy.deepcopy(EVERYTHING)
    change(document)
    return document


def step(document: dict, step_id: str) -> dict:
    """The step of `document` with that id."""
    return next(s for s in document["steps"] if s["id"] == step_id)


def plan_file(tmp_path, document: dict | str, name: str = "plan.json") -> str:
    """`document` (or a text as it is) saved as a file, as a marketer saves one; its path."""
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def plan_make(*, status: str = Plan.Status.ACTIVE, publish: bool = True, **kwargs) -> Plan:
    """Import (and publish) a plan from `plan_document(**kwargs)`; then set its status."""
    from automation.engine.plans import plan_import

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


# Issue 21's "cart rescue", as a marketer built it (docs/cockpit.md, "The plan's page"): a
# shop's cart_abandoned event enters; a text with a tracked link; 4 hours for a purchase
# (which ends the journey, and converts the goal with its value); else an A/B offer, each
# followed by 24 hours for a purchase. B's steps were added before A's: the document lists
# them first (the page lists them in the journey's order).
CART_URL = "https://shop.example.com/cart?utm_source=sms&utm_campaign=cart-rescue"
CART_RESCUE = {
    "format": "smsjourney.plan/1",
    "slug": "cart-rescue",
    "name": "Cart rescue",
    "entry": {"trigger": "event", "event": "cart_abandoned", "sender": None},
    "lifetime": "P3D",
    "goals": [{"slug": "purchased", "name": "Purchased", "points": 10, "event": "purchase"}],
    "start": "cart-reminder",
    "steps": [
        send("cart-reminder", "Hi {{ contact.first_name }}, you left something in your cart: "
             f"{CART_URL} Reply STOP to opt out.", "wait-purchase", name="Cart reminder"),
        {"id": "wait-purchase", "type": "wait_event", "event": "purchase", "next": None,
         "timeout": {"after": "PT4H", "next": "offer-split"}},
        {"id": "offer-split", "name": "Which offer", "type": "split_random", "branches": [
            {"name": "A", "weight": 50, "next": "offer-a"}, {"name": "B", "weight": 50, "next": "offer-b"}]},
        send("offer-b", "Free shipping on your cart today: https://shop.example.com/cart?offer=ship",
             "wait-b", name="Free shipping"),
        {"id": "wait-b", "name": "A day after free shipping", "type": "wait_event", "event": "purchase",
         "next": None, "timeout": {"after": "PT24H", "next": None}},
        send("offer-a", "Still thinking? 10% off with code SAVE10: https://shop.example.com/cart?code=SAVE10",
             "wait-a", name="Ten percent off"),
        {"id": "wait-a", "name": "A day after 10% off", "type": "wait_event", "event": "purchase",
         "next": None, "timeout": {"after": "PT24H", "next": None}},
    ],
}  # fmt: skip
