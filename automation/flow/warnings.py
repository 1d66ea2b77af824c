"""What may be a mistake in a plan that works (the marketer decides): found by a
marketer's walk-through of the admin. Pure: the document's normal form in, `Problem`s out;
the admin shows them as warnings, `plan_import` prints them, nothing refuses them."""

from __future__ import annotations

from datetime import timedelta

from automation.flow.edit import step_exits
from automation.flow.problems import Problem
from automation.flow.read import duration_parse, duration_say
from tracking.models import LINK_CLICK

SHORT_WAIT = timedelta(minutes=10)
_LIST_MARKS = (",", ";", "/", "|")


def _word_warning(word: str) -> str | None:
    if any(mark in word for mark in _LIST_MARKS):
        pieces = word.replace(";", ",").replace("/", ",").replace("|", ",").split(",")
        parts = " or ".join(p for p in pieces if p)
        return (
            f"has a rule that can hardly ever match: '{word}' is one word, so only the reply "
            f"'{word}' fits it; to accept {parts}, list them as separate words"
        )
    return None


def _regex_warning(pattern: str) -> str | None:
    if pattern.startswith("^") and pattern.endswith("$"):
        return None
    return (
        f"the pattern {pattern} also fits longer replies that contain it (“10” fits [1-3]); "
        f"to take only a whole reply, write ^({pattern.lstrip('^').rstrip('$')})$"
    )


def _timeout_warning(after: str) -> str | None:
    try:
        short = duration_parse(after) < SHORT_WAIT
    except ValueError:
        return None
    if short:
        return f"waits only {duration_say(after)}: is that the unit you meant (not hours)?"
    return None


def first_text(normal: dict) -> tuple[str | None, str]:
    """The step whose text a contact gets first, and that text: from the start step along
    each step's first way out, to the first step that sends one (a few steps at most)."""
    steps = {s["id"]: s for s in normal.get("steps", ())}
    step_id, seen = normal.get("start"), set()
    while step_id in steps and step_id not in seen and len(seen) < 20:
        seen.add(step_id)
        step = steps[step_id]
        if step.get("type") in ("send", "ask") and step.get("text"):
            return step_id, step["text"]
        ways = [w.target for w in step_exits(step) if w.target]
        step_id = ways[0] if ways else None
    return None, ""


def flow_warnings(normal: dict) -> list[Problem]:
    """Warnings for a valid document in its normal form."""
    out: list[Problem] = []
    for i, word in enumerate(normal.get("entry", {}).get("keywords", ())):
        message = _word_warning(word)
        if message:
            message = message.replace("has a rule that", "the keyword")
            out.append(Problem(None, f"entry.keywords[{i}]", message))
    for step in normal.get("steps", ()):
        sid = step["id"]
        for r, rule in enumerate(step.get("rules", ())):
            for w, word in enumerate(rule.get("words", ())):
                message = _word_warning(word)
                if message:
                    out.append(Problem(sid, f"rules[{r}].words[{w}]", message))
            if rule.get("match") == "regex" and rule.get("pattern"):
                message = _regex_warning(rule["pattern"])
                if message:
                    out.append(Problem(sid, f"rules[{r}].pattern", message))
        timeout = step.get("timeout")
        if timeout:
            message = _timeout_warning(timeout["after"])
            if message:
                out.append(Problem(sid, "timeout.after", message))
        if step.get("type") == "delay" and step.get("for"):
            message = _timeout_warning(step["for"])
            if message:
                out.append(Problem(sid, "for", message))
        if (
            step.get("type") == "wait_event"
            and step.get("event") == LINK_CLICK
            and not normal.get("track_links")
        ):
            out.append(Problem(sid, "event", f"waits for a click on a link, but {_UNTRACKED}"))
    if not normal.get("track_links"):
        for i, goal in enumerate(normal.get("goals", ())):
            if goal.get("event") == LINK_CLICK:
                out.append(
                    Problem(None, f"goals[{i}].event", f"is reached by a click on a link, but {_UNTRACKED}")
                )
    return out


_UNTRACKED = "this plan does not track its links, so no click can come (tick “Track links” in its settings)"
