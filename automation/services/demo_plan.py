"""The seed journey `quote-and-buy`, exactly as CONTRACT §4 describes it (load_demo_plan).

Idempotent: every row is looked up by its natural key and saved only when a value differs,
so a second run changes nothing and a run after a marketer's edits restores the texts.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction

from automation.models import Plan, PlanState, Transition
from automation.services.plans import PlanInvalid, plan_validate
from messaging.models import SmsMessage
from tracking.models import Goal

DEMO_SLUG = "quote-and-buy"
DEMO_NAME = "Quote and buy"
_FALLBACK_QUOTE = "Sorry, we didn't catch that. Reply QUOTE for your discount."
_FALLBACK_BUY = "Sorry, we didn't catch that. Reply BUY to claim your discount."
DEMO_GOALS = [
    {"name": "Quote requested", "slug": "quote-requested", "points": 10},
    {"name": "Purchase", "slug": "purchase", "points": 50},
]
DEMO_STATES = [
    {
        "name": "Invited",
        "is_start": True,
        "is_final": False,
        "body": "Hi! Reply QUOTE to get your exclusive discount.",
        "fallback_text": _FALLBACK_QUOTE,
        "goal": None,
        "timeout": timedelta(hours=24),
        "timeout_to": "Reminded",
    },
    {
        "name": "Reminded",
        "is_start": False,
        "is_final": False,
        "body": "Still interested? Reply QUOTE for your discount.",
        "fallback_text": _FALLBACK_QUOTE,
        "goal": None,
        "timeout": None,
        "timeout_to": None,
    },
    {
        "name": "Quoted",
        "is_start": False,
        "is_final": False,
        "body": "Your quote: 15% off your next order. Reply BUY to claim it.",
        "fallback_text": _FALLBACK_BUY,
        "goal": "Quote requested",
        "timeout": None,
        "timeout_to": None,
    },
    {
        "name": "Purchased",
        "is_start": False,
        "is_final": True,
        "body": "Thanks for your purchase! Your discount is applied.",
        "fallback_text": "",
        "goal": "Purchase",
        "timeout": None,
        "timeout_to": None,
    },
]
DEMO_TRANSITIONS = [
    ("Invited", "QUOTE", "Quoted"),
    ("Reminded", "QUOTE", "Quoted"),
    ("Quoted", "BUY", "Purchased"),
]


@dataclass
class _Tally:
    created: int = 0
    updated: int = 0
    deleted: int = 0


def _upsert(model, *, lookup: dict, values: dict, tally: _Tally, create_values: dict | None = None):
    """Get-or-create by `lookup`; save only the fields whose value differs (idempotent)."""
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        obj = model.objects.create(**lookup, **values, **(create_values or {}))
        tally.created += 1
        return obj
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if changed:
        for name in changed:
            setattr(obj, name, values[name])
        extra = ["updated_at"] if any(f.name == "updated_at" for f in model._meta.fields) else []
        obj.save(update_fields=changed + extra)
        tally.updated += 1
    return obj


@dataclass
class DemoPlanResult:
    plan: Plan
    created: int
    updated: int
    deleted: int


@transaction.atomic
def plan_load_demo_with_summary() -> DemoPlanResult:
    tally = _Tally()
    goals = {}
    for g in DEMO_GOALS:
        slug = g["slug"] if not Goal.objects.filter(slug=g["slug"]).exclude(name=g["name"]).exists() else ""
        goals[g["name"]] = _upsert(
            Goal,
            lookup={"name": g["name"]},
            values={"points": g["points"]},
            create_values={"slug": slug or f"{g['slug']}-demo"},
            tally=tally,
        )
    plan_values = {
        "name": DEMO_NAME,
        "description": "The seed journey: invite, remind once, quote, purchase.",
        "entry_trigger": Plan.EntryTrigger.ANY,
        "entry_keywords": "",
        "reentry": Plan.Reentry.AFTER_END,
        "interrupts_other_plans": True,
        "enrollment_lifetime": timedelta(days=7),
        "expiry_text": "",
    }
    plan = Plan.objects.select_for_update().filter(slug=DEMO_SLUG).first()
    if plan is None:
        plan = Plan.objects.create(slug=DEMO_SLUG, status=Plan.Status.DRAFT, **plan_values)
        tally.created += 1
    else:
        plan = _upsert(Plan, lookup={"pk": plan.pk}, values=plan_values, tally=tally)

    # Only one start state per plan: clear any other before (re)marking Invited.
    demo_names = [s["name"] for s in DEMO_STATES]
    tally.updated += (
        PlanState.objects.filter(plan=plan, is_start=True).exclude(name="Invited").update(is_start=False)
    )
    states: dict[str, PlanState] = {}
    for position, s in enumerate(DEMO_STATES):
        message = _upsert(
            SmsMessage,
            lookup={"name": f"{DEMO_NAME}: {s['name']}"},
            values={"body": s["body"], "media_url": ""},
            tally=tally,
        )
        states[s["name"]] = _upsert(
            PlanState,
            lookup={"plan": plan, "name": s["name"]},
            values={
                "position": position,
                "is_start": s["is_start"],
                "is_final": s["is_final"],
                "message": message,
                "goal": goals[s["goal"]] if s["goal"] else None,
                "fallback_text": s["fallback_text"],
                "timeout": s["timeout"],
            },
            tally=tally,
        )
    for s in DEMO_STATES:
        target = states[s["timeout_to"]] if s["timeout_to"] else None
        _upsert(PlanState, lookup={"pk": states[s["name"]].pk}, values={"timeout_to": target}, tally=tally)

    keep = []
    for from_name, word, to_name in DEMO_TRANSITIONS:
        t = _upsert(
            Transition,
            lookup={
                "plan": plan,
                "from_state": states[from_name],
                "to_state": states[to_name],
                "pattern": word,
            },
            values={"match": Transition.Match.KEYWORD, "priority": 0, "goal": None},
            tally=tally,
        )
        keep.append(t.pk)
    tally.deleted += Transition.objects.filter(plan=plan).exclude(pk__in=keep).delete()[0]
    # States a marketer added: removed unless an enrollment is (or was) in them.
    extra = (
        PlanState.objects.filter(plan=plan).exclude(name__in=demo_names).exclude(enrollments__isnull=False)
    )
    tally.deleted += extra.delete()[0]

    problems = plan_validate(plan=plan)
    if problems:
        raise PlanInvalid(["The demo plan does not validate:", *problems])
    if plan.status != Plan.Status.ACTIVE:
        # Straight to active, also from archived: this command restores the seed journey.
        Plan.objects.filter(pk=plan.pk).update(status=Plan.Status.ACTIVE)
        tally.updated += 1
        plan = Plan.objects.get(pk=plan.pk)
    return DemoPlanResult(plan=plan, created=tally.created, updated=tally.updated, deleted=tally.deleted)
