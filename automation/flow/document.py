"""The plan format (docs/reference.md §6): reading a document into its normal form with every
problem named, and the frozen `Flow` the interpreter runs. Pure: no database.

`flow_read(document)` returns the normal form (defaults filled in, durations as written
once checked), which is what a revision stores and `plan_export` prints, so that
exporting and importing again changes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from automation.flow.kinds import KINDS
from automation.flow.kinds.base import Step
from automation.flow.matching import keyword_normalize
from automation.flow.problems import Problems
from automation.flow.read import SLUG, STEP_ID, Reader, duration_parse, problem_at, shown, step_label
from contacts.compliance import RESERVED_KEYWORDS
from infra.strict_json import json_refusals
from messaging.senders import sender_address_kind

FORMAT = "smsjourney.plan/1"
TOP_KEYS = (
    "format", "slug", "name", "description", "entry", "reentry", "interrupts_other_plans",
    "lifetime", "expiry_text", "track_links", "double_opt_in", "goals", "start", "steps",
)  # fmt: skip
TRIGGERS = ("keyword", "any", "event", "none")
REENTRY = ("after_end", "never")
COMMON_KEYS = ("id", "name", "type", "goal")  # every step has these; the rest are its kind's
MAX_STEPS = 500
MAX_KEYWORDS = 50  # a plan's entry keywords
MAX_GOALS = 100
MAX_POINTS = 1_000_000  # a goal's points (stored as an integer column)


def step_data(step: Mapping[str, Any]) -> dict:
    """A step's own keys (what its kind reads), without id, name, type and goal."""
    return {k: v for k, v in step.items() if k not in COMMON_KEYS}


def frozen(value: Any) -> Any:
    """A read-only copy: mappings become MappingProxyType, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: frozen(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(frozen(v) for v in value)
    return value


@dataclass(frozen=True)
class Entry:
    trigger: str
    keywords: frozenset[str]  # normalised
    event: str | None
    sender: str | None


@dataclass(frozen=True)
class Goal:
    slug: str
    name: str
    points: int
    event: str | None


@dataclass(frozen=True)
class Flow:
    """A published revision as the interpreter sees it: immutable, shared by threads."""

    slug: str
    name: str
    entry: Entry
    reentry: str
    interrupts_other_plans: bool
    lifetime: timedelta
    expiry_text: str
    track_links: bool
    goals: Mapping[str, Goal]
    start: str
    steps: Mapping[str, Step]
    order: tuple[str, ...]  # step ids as authored
    revision: int | None = None  # the revision's number, when read from one
    double_opt_in: bool = False
    goal_ids: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))  # slug → goal row


def flow_read(document: Any) -> tuple[dict, Problems]:
    """The document's normal form and its problems (none: it may be published). A document
    holding what no text or JSON may (a NUL character, a lone surrogate, a number that is
    not finite, nesting too deep: ``infra.strict_json``) is refused for that alone."""
    problems = Problems()
    refused = [problem_at(document, path, reason) for path, reason in json_refusals(document)]
    if refused:
        problems.items.extend(refused)
        return {}, problems
    r = Reader(document, problems=problems, step=None, allowed=TOP_KEYS)
    fmt = r.get("format", FORMAT)
    if fmt != FORMAT:
        r.bad("format", f"{shown(fmt)} is not {FORMAT!r}")
    slug = r.get("slug")
    if not isinstance(slug, str) or not SLUG.fullmatch(slug):
        r.bad("slug", f"{shown(slug)} is not a slug (lower-case letters, digits and -)")
    normal: dict[str, Any] = {
        "format": FORMAT,
        "slug": slug,
        "name": r.plain("name", max_length=100, required=False) or (slug if isinstance(slug, str) else ""),
        "description": r.plain("description", max_length=2000, required=False),
        "entry": _entry(r),
        "reentry": r.choice("reentry", REENTRY, default="after_end"),
        "interrupts_other_plans": r.boolean("interrupts_other_plans", default=True),
        "lifetime": r.duration("lifetime", required=False) or "P7D",
        "expiry_text": r.text("expiry_text", required=False),
        "track_links": r.boolean("track_links", default=True),
        "goals": _goals(r),
        "start": r.get("start", None),  # its problems are the graph's (_check_graph)
        "steps": _steps(r),
    }
    # Optional (issue 12): written only when on, so §6 documents export as they were.
    if r.boolean("double_opt_in", default=False):
        normal["double_opt_in"] = True
    _check_graph(normal, problems)
    if normal.get("double_opt_in"):
        _check_double_opt_in(normal, problems)
    return normal, problems


def flow_build(normal: Mapping[str, Any], *, revision: int | None = None) -> Flow:
    """The Flow of a document already in normal form (a stored revision)."""
    entry = normal["entry"]
    steps = {
        s["id"]: Step(
            id=s["id"],
            name=s.get("name") or s["id"],
            type=s["type"],
            goal=s.get("goal"),
            data=frozen(step_data(s)),
        )
        for s in normal["steps"]
    }
    return Flow(
        slug=normal["slug"],
        name=normal["name"],
        entry=Entry(
            trigger=entry["trigger"],
            keywords=frozenset(keyword_normalize(w) for w in entry.get("keywords", ())),
            event=entry.get("event"),
            sender=entry.get("sender"),
        ),
        reentry=normal["reentry"],
        interrupts_other_plans=normal["interrupts_other_plans"],
        lifetime=duration_parse(normal["lifetime"], clamp=True),
        expiry_text=normal["expiry_text"],
        track_links=normal["track_links"],
        double_opt_in=normal.get("double_opt_in", False),
        goals=MappingProxyType(
            {g["slug"]: Goal(g["slug"], g["name"], g["points"], g.get("event")) for g in normal["goals"]}
        ),
        start=normal["start"],
        steps=MappingProxyType(steps),
        order=tuple(steps),
        revision=revision,
    )


# --- parts ---------------------------------------------------------------------------------


def _entry(r: Reader) -> dict:
    e = r.child(
        r.get("entry", {"trigger": "none"}), "entry", allowed=("trigger", "keywords", "event", "sender")
    )
    trigger = e.choice("trigger", TRIGGERS)
    entry: dict[str, Any] = {"trigger": trigger}
    if trigger == "keyword":
        words = []
        raw = e.items("keywords", most=MAX_KEYWORDS, what="keywords")
        if not raw:
            e.bad("keywords", "a plan entered by keyword needs at least one keyword, e.g. JOIN")
        for i, word in enumerate(raw):
            normalized = keyword_normalize(word) if isinstance(word, str) else ""
            if not normalized or " " in normalized:
                e.bad(f"keywords[{i}]", f"{shown(word)} must be one word (no spaces), e.g. JOIN")
            elif normalized in RESERVED_KEYWORDS:
                e.bad(
                    f"keywords[{i}]",
                    f"{shown(word)} is a compliance word ({normalized} always means opt-out or help)",
                )
            else:
                words.append(word)
        entry["keywords"] = words
    elif e.raw.get("keywords"):
        e.bad("keywords", f"keywords go with the keyword trigger, not {shown(trigger)}")
    if trigger == "event":
        entry["event"] = e.event_type("event")
    elif e.raw.get("event") is not None:
        e.bad("event", f"event goes with the event trigger, not {shown(trigger)}")
    sender = e.get("sender", None)
    if sender is not None and (not isinstance(sender, str) or sender_address_kind(sender) is None):
        e.bad(
            "sender",
            f"{shown(sender)} is not a sender's address: an E.164 number (+15017122661), a short "
            "code of 5 or 6 digits or whatsapp: and an E.164 number (or null: any sender)",
        )
        sender = None
    entry["sender"] = sender
    return entry


def _goals(r: Reader) -> list[dict]:
    goals, seen = [], set()
    for i, raw in enumerate(r.items("goals", most=MAX_GOALS, what="goals", required=False)):
        g = r.child(raw, f"goals[{i}]", allowed=("slug", "name", "points", "event"))
        slug = g.get("slug")
        if not isinstance(slug, str) or not SLUG.fullmatch(slug):
            g.bad("slug", f"{shown(slug)} is not a slug")
            slug = None
        elif slug in seen:
            g.bad("slug", f"goal {shown(slug)} is listed twice")
        else:
            seen.add(slug)
        goal = {
            "slug": slug,
            "name": g.plain("name", max_length=100) or slug or "",
            "points": g.integer("points", default=0, minimum=0, maximum=MAX_POINTS),
            "event": None,
        }
        if g.raw.get("event") is not None:
            goal["event"] = g.event_type("event")
        goals.append(goal)
    return goals


def _steps(r: Reader) -> list[dict]:
    raw_steps = r.items("steps", most=MAX_STEPS, what="steps")
    if not raw_steps and isinstance(r.raw.get("steps"), list):
        r.bad("steps", "a plan needs at least one step")
    steps, seen = [], set()
    for i, raw in enumerate(raw_steps):
        step_id = raw.get("id") if isinstance(raw, dict) else None
        type_ = raw.get("type") if isinstance(raw, dict) else None
        kind = KINDS.get(type_) if isinstance(type_, str) else None
        s = Reader(
            raw,
            problems=r.problems,
            step=step_label(raw, i),
            allowed=(*COMMON_KEYS, *kind.keys) if kind else (),
        )
        if not isinstance(step_id, str) or not STEP_ID.fullmatch(step_id):
            s.bad("id", f"{shown(step_id)} is not a step id ([a-z0-9-], 1 to 50 characters)")
        elif step_id in seen:
            s.bad("id", f"{shown(step_id)} is the id of another step too")
        else:
            seen.add(step_id)
        if kind is None:
            if isinstance(raw, dict):
                s.bad("type", f"unknown step type {shown(type_)} (known: {', '.join(KINDS)})")
            continue
        step: dict[str, Any] = {"id": step_id}
        name = s.plain("name", max_length=100, required=False)
        if name:
            step["name"] = name
        step["type"] = kind.type
        goal = s.goal("goal")
        if goal is not None:
            step["goal"] = goal
        step.update(kind.read(s))
        steps.append(step)
    return steps


def _check_graph(normal: dict, problems: Problems) -> None:
    """Whole-plan rules: start, exits, goals, keywords, reachability, loops without a wait."""
    steps = {s["id"]: s for s in normal["steps"] if isinstance(s.get("id"), str)}
    goals = {g["slug"] for g in normal["goals"]}
    start = normal["start"]
    if start is None:
        problems.add(None, "start", "is required: the id of the step new enrollments begin at")
    elif not isinstance(start, str) or start not in steps:
        problems.add(None, "start", f"{shown(start)} is not the id of a step")
        start = None

    edges: dict[str, list[str]] = {}
    for step_id, step in steps.items():
        kind = KINDS[step["type"]]
        data = step_data(step)
        edges[step_id] = []
        for way in kind.exits(data):
            if way.target is None:
                continue
            if way.target not in steps:
                problems.add(step_id, way.field, f"goes to {way.target!r}, which is not a step of this plan")
            else:
                edges[step_id].append(way.target)
        for where, goal in _goal_refs(step):
            if goal not in goals:
                problems.add(
                    step_id, where, f"{shown(goal)} is not one of the plan's goals (list it under goals)"
                )
        seen: set[str] = set()
        for where, word in kind.keywords(data):
            normalized = keyword_normalize(word)
            if normalized in RESERVED_KEYWORDS:
                problems.add(
                    step_id,
                    where,
                    f"{shown(word)} is a compliance word ({normalized} always means opt-out or help)",
                )
            elif normalized in seen:
                problems.add(
                    step_id,
                    where,
                    f"{normalized} is used twice in this step's rules: the second can never match",
                )
            seen.add(normalized)

    if start in steps:
        reached, todo = {start}, [start]
        while todo:
            for target in edges[todo.pop()]:
                if target not in reached:
                    reached.add(target)
                    todo.append(target)
        for step_id in steps:
            if step_id not in reached:
                problems.add(step_id, "", f"cannot be reached from the start step {shown(start)}")
    for cycle in _loops_without_wait(steps, edges):
        problems.add(
            cycle[0], "", "loops back through " + " → ".join(cycle) + " without an ask, wait_event or delay"
        )


def _check_double_opt_in(normal: dict, problems: Problems) -> None:
    """A plan with double opt-in asks first: its start step is an ask that takes YES (the
    reply that records the contact's consent)."""
    start = next((s for s in normal["steps"] if s.get("id") == normal["start"]), None)
    if start is None or not KINDS[start["type"]].asks_for(step_data(start), "YES"):
        problems.add(
            None,
            "double_opt_in",
            "the first step must ask for a YES (an ask step with a rule for the word YES), "
            "e.g. “Reply YES to get Acme deals. Msg & data rates may apply.”",
        )


def _goal_refs(step: dict) -> list[tuple[str, Any]]:
    refs = [("goal", step["goal"])] if step.get("goal") is not None else []
    refs += [
        (f"rules[{i}].goal", rule["goal"]) for i, rule in enumerate(step.get("rules", ())) if "goal" in rule
    ]
    return refs


def _loops_without_wait(steps: dict, edges: dict[str, list[str]]) -> list[list[str]]:
    """Cycles through steps that go on at once (depth-first over the non-waiting steps)."""
    instant = {i for i, s in steps.items() if not KINDS[s["type"]].waits}
    color: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        color[node] = 1
        path.append(node)
        for target in edges.get(node, ()):
            if target not in instant:
                continue
            if color.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in color:
                visit(target, path)
        path.pop()
        color[node] = 2

    for node in steps:
        if node in instant and node not in color:
            visit(node, [])
    return cycles
