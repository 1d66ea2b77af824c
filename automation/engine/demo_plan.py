"""The seed journey `quote-and-buy`, exactly as docs/reference.md §4 describes it (load_demo_plan).

Idempotent: the document below is imported (no new revision when the published one is
the same), its goals' names and points restored, and the plan made active, so a second
run changes nothing and a run after a marketer's edits restores the journey."""

from dataclasses import dataclass

from django.db import transaction

from automation.engine.plans import goals_ensure, plan_import
from automation.models import Plan

DEMO_SLUG = "quote-and-buy"
_FALLBACK_QUOTE = "Sorry, we didn't catch that. Reply QUOTE for your discount."
_FALLBACK_BUY = "Sorry, we didn't catch that. Reply BUY to claim your discount."
DEMO_DOCUMENT = {
    "format": "smsjourney.plan/1",
    "slug": DEMO_SLUG,
    "name": "Quote and buy",
    "description": "The seed journey: invite, remind once, quote, purchase.",
    "entry": {"trigger": "any", "sender": None},
    "reentry": "after_end",
    "interrupts_other_plans": True,
    "lifetime": "P7D",
    "expiry_text": "",
    "track_links": True,
    "goals": [
        {"slug": "quote-requested", "name": "Quote requested", "points": 10, "event": None},
        {"slug": "purchase", "name": "Purchase", "points": 50, "event": None},
    ],
    "start": "invited",
    "steps": [
        {
            "id": "invited",
            "name": "Invited",
            "type": "ask",
            "text": "Hi! Reply QUOTE to get your exclusive discount.",
            "rules": [{"match": "keyword", "words": ["QUOTE"], "next": "quoted"}],
            "other": {"text": _FALLBACK_QUOTE, "repeat": 1, "next": None},
            "timeout": {"after": "PT24H", "next": "reminded"},
        },
        {
            "id": "reminded",
            "name": "Reminded",
            "type": "ask",
            "text": "Still interested? Reply QUOTE for your discount.",
            "rules": [{"match": "keyword", "words": ["QUOTE"], "next": "quoted"}],
            "other": {"text": _FALLBACK_QUOTE, "repeat": 1, "next": None},
        },
        {
            "id": "quoted",
            "name": "Quoted",
            "type": "ask",
            "goal": "quote-requested",
            "text": "Your quote: 15% off your next order. Reply BUY to claim it.",
            "rules": [{"match": "keyword", "words": ["BUY"], "next": "purchased"}],
            "other": {"text": _FALLBACK_BUY, "repeat": 1, "next": None},
        },
        {
            "id": "purchased",
            "name": "Purchased",
            "type": "send",
            "goal": "purchase",
            "text": "Thanks for your purchase! Your discount is applied.",
            "next": None,
        },
    ],
}


@dataclass
class DemoPlanResult:
    plan: Plan
    revision: int | None  # the revision published now; None when nothing changed
    activated: bool


@transaction.atomic
def plan_load_demo_with_summary() -> DemoPlanResult:
    goals_ensure(goals=DEMO_DOCUMENT["goals"], update=True)
    result = plan_import(document=DEMO_DOCUMENT)
    plan = result.plan
    activated = False
    if Plan.objects.filter(pk=plan.pk).exclude(status=Plan.Status.ACTIVE).update(status=Plan.Status.ACTIVE):
        activated = True  # straight to active, also from archived: this restores the seed journey
    plan = Plan.objects.get(pk=plan.pk)
    return DemoPlanResult(
        plan=plan, revision=result.revision.number if result.revision else None, activated=activated
    )
