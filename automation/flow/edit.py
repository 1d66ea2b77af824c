"""Editing a plan document one step at a time (the admin's step editor). Pure: each
function takes a document and returns a new one (the input is never changed); whether
the result is a plan that can work is `flow_read`'s to say, as for any document.

Exits are addressed by the field that names them (`Exit.field` of the step's kind:
``next``, ``rules[2].next``, ``timeout.next``, ``branches[0].next``, ``default`` …), so
connecting, renaming and deleting work for every kind without naming one."""

from __future__ import annotations

import copy
import re
from typing import Any

from automation.flow.document import step_data
from automation.flow.kinds import KINDS

_PART = re.compile(r"([a-z_]+)(?:\[(\d+)\])?")


def step_exits(step: dict) -> list:
    """The exits of a step of a valid document (its kind's `Exit`s)."""
    return KINDS[step["type"]].exits(step_data(step))


def exit_set(step: dict, field: str, target: str | None) -> None:
    """Point the exit named by `field` (``rules[1].next``, ``timeout.next``, ``default``)
    of `step` (changed in place) at `target`. KeyError when the step has no such exit."""
    *path, last = field.split(".")
    node: Any = step
    for part in path:
        m = _PART.fullmatch(part)
        if m is None or not isinstance(node, dict):
            raise KeyError(field)
        node = node.get(m.group(1))
        if m.group(2) is not None:
            index = int(m.group(2))
            node = node[index] if isinstance(node, list) and index < len(node) else None
    if not isinstance(node, dict) or not re.fullmatch(r"[a-z_]+", last):
        raise KeyError(field)
    node[last] = target


def _retarget(document: dict, old: str, new: str | None) -> None:
    """Every exit to `old` now goes to `new` (in place)."""
    for step in document["steps"]:
        for way in step_exits(step):
            if way.target == old:
                exit_set(step, way.field, new)


def step_insert(document: dict, step: dict, *, after: tuple[str, str] | None = None) -> dict:
    """`document` with `step` added: after the step `after[0]`, whose exit `after[1]` now
    goes to the new step; otherwise at the end, unconnected (the start when it is the
    only step)."""
    doc = copy.deepcopy(document)
    index = len(doc["steps"])
    if after is not None:
        source_id, field = after
        for i, source in enumerate(doc["steps"]):
            if source["id"] == source_id:
                exit_set(source, field, step["id"])
                index = i + 1
                break
        else:
            raise KeyError(source_id)
    doc["steps"].insert(index, copy.deepcopy(step))
    if not doc.get("start"):
        doc["start"] = step["id"]
    return doc


def step_replace(document: dict, step_id: str, step: dict) -> dict:
    """`document` with step `step_id` replaced by `step`; when the id changes, every exit
    to it and the start follow."""
    doc = copy.deepcopy(document)
    for i, old in enumerate(doc["steps"]):
        if old["id"] == step_id:
            doc["steps"][i] = copy.deepcopy(step)
            break
    else:
        raise KeyError(step_id)
    if step["id"] != step_id:
        _retarget(doc, step_id, step["id"])
        if doc.get("start") == step_id:
            doc["start"] = step["id"]
    return doc


def step_remove(document: dict, step_id: str) -> dict:
    """`document` without step `step_id`; exits that went to it now end the enrollment.
    Removing the start step makes the step it led to (its first exit's) the start."""
    doc = copy.deepcopy(document)
    removed = next(s for s in doc["steps"] if s["id"] == step_id)
    doc["steps"] = [s for s in doc["steps"] if s["id"] != step_id]
    _retarget(doc, step_id, None)
    if doc.get("start") == step_id:
        targets = [way.target for way in step_exits(removed) if way.target and way.target != step_id]
        doc["start"] = targets[0] if targets else None
    return doc


def step_id_free(document: dict, base: str) -> str:
    """`base` (made a step id), or `base-2`, `base-3` … whichever no step has yet."""
    base = re.sub(r"[^a-z0-9-]+", "-", base.lower()).strip("-")[:44] or "step"
    taken = {s.get("id") for s in document.get("steps", ())}
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate
