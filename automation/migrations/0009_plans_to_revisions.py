"""Every plan's states and transitions become revision 1 of the plan in the docs/reference.md §6
format, with no change of behaviour; enrollments, their step history and their messages
name the step by id. A plan that was ever live gets its revision published; a draft plan
keeps it as its draft. Self-contained on purpose: a migration must not import code that
will change."""

import re
from datetime import timedelta

from django.db import migrations
from django.utils import timezone

GRAPH_TABLES = [
    "automation_plan",
    "automation_planstate",
    "automation_transition",
    "messaging_smsmessage",
    "tracking_goal",
]
WORD_MATCHES = {"keyword", "first_word", "contains"}


def _iso(value: timedelta) -> str:
    days, seconds = value.days, value.seconds
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    time = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else ("" if days else "T0S"))


def _step_ids(states) -> dict[int, str]:
    ids, used = {}, set()
    for state in states:
        base = re.sub(r"[^a-z0-9]+", "-", state.name.lower()).strip("-")[:44] or f"step-{state.pk}"
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}-{n}", n + 1
        used.add(candidate)
        ids[state.pk] = candidate
    return ids


def plan_document(plan, states, transitions, goals_by_id) -> dict:
    ids = _step_ids(states)
    used_goals: dict[int, object] = {}
    steps = []
    start = next((ids[s.pk] for s in states if s.is_start), ids[states[0].pk] if states else None)
    for state in states:
        step: dict = {"id": ids[state.pk]}
        if ids[state.pk] != state.name:
            step["name"] = state.name
        text = state.message.body if state.message_id else ""
        if state.goal_id:
            step["goal"] = goals_by_id[state.goal_id].slug
            used_goals[state.goal_id] = goals_by_id[state.goal_id]
        if state.is_final:
            step.update({"type": "send", "text": text, "next": None})
            if state.message_id and state.message.media_url:
                step["media"] = [state.message.media_url]
        else:
            rules = []
            for t in transitions.get(state.pk, []):
                if t.to_state_id not in ids:
                    continue
                rule: dict = {"match": t.match}
                if t.match in WORD_MATCHES:
                    rule["words"] = [t.pattern]
                elif t.match == "regex":
                    rule["pattern"] = t.pattern
                if t.goal_id:
                    rule["goal"] = goals_by_id[t.goal_id].slug
                    used_goals[t.goal_id] = goals_by_id[t.goal_id]
                rule["next"] = ids[t.to_state_id]
                rules.append(rule)
            step.update({"type": "ask", "text": text, "rules": rules})
            if state.fallback_text.strip():
                step["other"] = {"text": state.fallback_text, "repeat": 1, "next": None}
            if state.timeout and state.timeout_to_id in ids:
                step["timeout"] = {"after": _iso(state.timeout), "next": ids[state.timeout_to_id]}
        steps.append(step)
    keywords = [w.strip() for w in (plan.entry_keywords or "").split(",") if w.strip()]
    entry = {"trigger": plan.entry_trigger, "sender": None}
    if plan.entry_trigger == "keyword":
        entry["keywords"] = keywords
    return {
        "format": "smsjourney.plan/1",
        "slug": plan.slug,
        "name": plan.name,
        "description": plan.description,
        "entry": entry,
        "reentry": plan.reentry,
        "interrupts_other_plans": plan.interrupts_other_plans,
        "lifetime": _iso(plan.enrollment_lifetime),
        "expiry_text": plan.expiry_text,
        "track_links": False,  # links were never tracked before: no change of behaviour
        "goals": [
            {"slug": g.slug, "name": g.name, "points": g.points, "event": None}
            for g in sorted(used_goals.values(), key=lambda g: g.pk)
        ],
        "start": start,
        "steps": steps,
    }


def forwards(apps, schema_editor):
    Plan = apps.get_model("automation", "Plan")
    PlanState = apps.get_model("automation", "PlanState")
    Transition = apps.get_model("automation", "Transition")
    PlanRevision = apps.get_model("automation", "PlanRevision")
    Enrollment = apps.get_model("automation", "Enrollment")
    EnrollmentStep = apps.get_model("automation", "EnrollmentStep")
    OutboundMessage = apps.get_model("messaging", "OutboundMessage")
    Goal = apps.get_model("tracking", "Goal")

    _triggers_drop(schema_editor)
    goals_by_id = {g.pk: g for g in Goal.objects.all()}
    now = timezone.now()
    for plan in Plan.objects.all():
        states = list(PlanState.objects.filter(plan=plan).select_related("message").order_by("position", "id"))
        transitions: dict[int, list] = {}
        for t in Transition.objects.filter(plan=plan).order_by("priority", "id"):
            transitions.setdefault(t.from_state_id, []).append(t)
        ids = _step_ids(states)
        live = plan.status != "draft"
        revision = PlanRevision.objects.create(
            plan=plan,
            number=1,
            document=plan_document(plan, states, transitions, goals_by_id),
            published_at=now if live else None,
            note="Converted from the plan's states and transitions.",
        )
        if live:
            Plan.objects.filter(pk=plan.pk).update(published=revision)
        Enrollment.objects.filter(plan=plan).update(revision=revision)
        for state_pk, step_id in ids.items():
            Enrollment.objects.filter(plan=plan, current_state_id=state_pk).update(step_id=step_id)
            EnrollmentStep.objects.filter(state_id=state_pk).update(step_id=step_id)
            OutboundMessage.objects.filter(state_id=state_pk).update(step_id=step_id)
        # A state's fallback went out: its "other" answer has been used once.
        Enrollment.objects.filter(plan=plan, fallback_sent=True).update(other_count=1)


def _triggers_drop(schema_editor):
    """The graph stamp's triggers (0004): revisions are immutable, nothing needs them."""
    vendor, execute = schema_editor.connection.vendor, schema_editor.execute
    if vendor == "postgresql":
        for table in GRAPH_TABLES:
            execute(f"DROP TRIGGER IF EXISTS {table}_graph_touch ON {table}")
        execute("DROP FUNCTION IF EXISTS automation_plan_graph_touch() CASCADE")
        execute("DROP SEQUENCE IF EXISTS automation_plan_graph_seq")
    elif vendor == "sqlite":
        for table in GRAPH_TABLES:
            for event in ("insert", "update", "delete"):
                execute(f"DROP TRIGGER IF EXISTS {table}_graph_touch_{event}")


class Migration(migrations.Migration):
    dependencies = [
        ("automation", "0008_plan_revisions"),
        ("messaging", "0003_outbound_step_id"),
        ("tracking", "0004_interaction_route_attempts"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)]
