"""What may be a mistake in a plan that works (the marketer decides): found by a
marketer's walk-through of the admin. Pure: the document's normal form in, `Problem`s out;
the admin shows them as warnings, `plan_import` prints them, nothing refuses them. A
step's own warnings are its kind's (`StepKind.warnings`)."""

from __future__ import annotations

from automation.flow.document import step_data
from automation.flow.edit import step_exits
from automation.flow.kinds import KINDS
from automation.flow.kinds.ask import word_warning
from automation.flow.kinds.wait_event import LINKS_UNTRACKED
from automation.flow.problems import Problem
from tracking.models import LINK_CLICK


def first_text(normal: dict) -> tuple[str | None, str]:
    """The step whose text a contact gets first, and that text: from the start step along
    each step's first way out, to the first step that sends one (a few steps at most)."""
    steps = {s["id"]: s for s in normal.get("steps", ())}
    step_id, seen = normal.get("start"), set()
    while step_id in steps and step_id not in seen and len(seen) < 20:
        seen.add(step_id)
        step = steps[step_id]
        text = KINDS[step["type"]].prompt(step_data(step))
        if text:
            return step_id, text
        ways = [w.target for w in step_exits(step) if w.target]
        step_id = ways[0] if ways else None
    return None, ""


def flow_warnings(normal: dict) -> list[Problem]:
    """Warnings for a valid document in its normal form."""
    out: list[Problem] = []
    for i, word in enumerate(normal.get("entry", {}).get("keywords", ())):
        message = word_warning(word)
        if message:
            message = message.replace("has a rule that", "the keyword")
            out.append(Problem(None, f"entry.keywords[{i}]", message))
    for step in normal.get("steps", ()):
        warnings = KINDS[step["type"]].warnings(step_data(step), plan=normal)
        out += [Problem(step["id"], where, message) for where, message in warnings]
    if not normal.get("track_links"):
        for i, goal in enumerate(normal.get("goals", ())):
            if goal.get("event") == LINK_CLICK:
                out.append(
                    Problem(
                        None, f"goals[{i}].event", f"is reached by a click on a link, but {LINKS_UNTRACKED}"
                    )
                )
    return out
