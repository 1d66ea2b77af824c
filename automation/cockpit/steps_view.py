"""How a plan's steps read to a marketer, wherever they are shown (the step list, the
diagram, the step editor's choices and prompts): each step by its title, never its id;
the steps in the order a journey goes through them; the goals a step or a way out
records, with their points and whether they bring revenue. Pure: a `Flow` in, words out.
"""

from __future__ import annotations

import re
from typing import Any

from automation.flow.document import Flow, Goal, frozen, step_data
from automation.flow.kinds import KINDS
from automation.flow.kinds.base import Exit, Step

TITLE_CHARS = 60  # a step's title when it has no name: what it does, cut at a word


def words_cut(text: str, limit: int) -> str:
    """`text` on one line, at most `limit` characters, cut after a whole word ("…"): a URL
    that does not fit is left out whole rather than cut in the middle."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 3 else cut).rstrip(" ,;:") + "…"


def step_title(step: Step) -> str:
    """The step's name; a step without one (its name is its id) by what it does."""
    if step.name != step.id:
        return step.name
    return words_cut(step.kind.label(step), TITLE_CHARS)


def step_dict_title(step: Any) -> str:
    """`step_title` of a step as a document or a form has it (not checked yet): its name,
    else what it does, else its kind's description."""
    if not isinstance(step, dict):
        return "a step"
    name, step_id, kind_type = step.get("name"), step.get("id"), step.get("type")
    kind = KINDS.get(kind_type) if isinstance(kind_type, str) else None
    if isinstance(name, str) and name.strip() and name != step_id:
        return name
    if kind is None:
        return str(step_id)
    try:
        label = kind.label(Step(str(step_id), str(step_id), kind.type, None, frozen(step_data(step))))
    except (KeyError, TypeError, IndexError, AttributeError, ValueError):
        return kind.description
    return words_cut(label, TITLE_CHARS)


def step_dict_choice(step: dict) -> str:
    """A step as a choice among the plan's steps: its title, and what it does when the
    title is a name (`Cart reminder — Send: You left something…`)."""
    title = step_dict_title(step)
    if step.get("name") in (None, "", step.get("id")):
        return title
    described = step_dict_title({k: v for k, v in step.items() if k != "name"})
    return f"{title} — {words_cut(described, 40)}"


def exit_said(step: dict, field: str) -> str:
    """A way out of a step in words, for a page about what goes there: `After “Wait for
    purchase”: none within 4 hours`."""
    kind = KINDS.get(step["type"]) if isinstance(step.get("type"), str) else None
    label = ""
    if kind is not None:
        try:
            label = next((w.label for w in kind.exits(step_data(step)) if w.field == field), "")
        except (KeyError, TypeError, IndexError, AttributeError, ValueError):
            label = ""
    return f"After “{step_dict_title(step)}”" + (f": {label}" if label else "")


def flow_order(flow: Flow) -> list[str]:
    """The steps in the order a journey meets them: from the start, each step before the
    steps it leads to (a way back to an earlier step aside), the ways out in the order the
    step lists them — branch A's steps, then B's; a step that two ways reach comes after
    both. Steps no way reaches come last, as authored."""
    out: dict[str, list[str]] = {
        step_id: [w.target for w in step.kind.exits(step.data) if w.target in flow.steps]
        for step_id, step in flow.steps.items()
    }
    finished: list[str] = []
    if flow.start in flow.steps:
        # Depth first, the last way out first, a step once all below it is done: reversed,
        # each step comes before what it leads to, the first way's steps first.
        seen = {flow.start}
        stack = [(flow.start, iter(reversed(out[flow.start])))]
        while stack:
            node, todo = stack[-1]
            child = next(todo, None)
            if child is None:
                finished.append(node)
                stack.pop()
            elif child not in seen:
                seen.add(child)
                stack.append((child, iter(reversed(out[child]))))
    reached = finished[::-1]
    taken = set(reached)
    return [*reached, *(i for i in flow.order if i not in taken)]


def goal_words(goal: Goal) -> str:
    """`★ Purchased · 10 points · revenue: each purchase's value`."""
    bits = [f"★ {goal.name}"]
    if goal.points:
        bits.append(f"{goal.points} point{'s' if goal.points != 1 else ''}")
    if goal.event:
        bits.append(f"revenue: each {goal.event}'s value")
    return " · ".join(bits)


def step_goal(flow: Flow, step: Step) -> Goal | None:
    """The goal entering the step records."""
    return flow.goals.get(step.goal) if step.goal else None


def exit_goals(flow: Flow, way: Exit) -> list[Goal]:
    """The goals taking this way out records: an ask's rule's own, and those the event a
    wait waits for reaches (with the event's value as revenue)."""
    goals = [flow.goals[way.goal]] if way.goal in flow.goals else []
    if way.event:
        goals += [g for g in flow.goals.values() if g.event == way.event and g not in goals]
    return goals


def goals_legend(flow: Flow) -> list[str]:
    """A line per goal of the plan: what it is worth, and where it is reached."""
    lines = []
    for goal in flow.goals.values():
        where = [f"“{step_title(s)}”" for s in flow.steps.values() if s.goal == goal.slug]
        where += [
            f"“{step_title(s)}” ({w.label})"
            for s in flow.steps.values()
            for w in s.kind.exits(s.data)
            if w.goal == goal.slug
        ]
        said = goal_words(goal)
        if goal.event:
            said += f"; reached when a {goal.event} event comes, at any step"
        if where:
            said += f"; {'also ' if goal.event else ''}reached at {', '.join(where)}"
        lines.append(said)
    return lines
