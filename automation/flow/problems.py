"""How the plan format reports what is wrong: one problem per step and field, in a
marketer's words (docs/reference.md §6: "naming the step and field")."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_LISTS = {"rules": "reply", "branches": "branch", "cases": "case", "goals": "goal", "media": "media URL",
          "keywords": "keyword", "words": "word"}  # fmt: skip
_INDEX = re.compile(r"([a-z_]+)\[(\d+)\]")


def field_say(field: str) -> str:
    """`rules[1].next` → "reply 2, next"; `timeout.after` → "timeout after"."""
    parts = []
    for part in field.split("."):
        m = _INDEX.fullmatch(part)
        if m and m.group(1) in _LISTS:
            parts.append(f"{_LISTS[m.group(1)]} {int(m.group(2)) + 1}")
        else:
            parts.append(part.replace("_", " "))
    return ", ".join(parts)


@dataclass(frozen=True)
class Problem:
    """One thing that keeps a plan from working: where (`step` id, or None for the plan
    itself; `field`, a dotted path inside it) and what."""

    step: str | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"step {self.step!r}" if self.step is not None else "plan"
        return f"{where}, {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def say(self, names: Mapping[str, str]) -> str:
        """In a marketer's words: the step by its name (`names`: id → name), the field in
        plain words: "“Asked”, reply 2, next: goes to 'gone', …"."""
        where = "The plan" if self.step is None else f"“{names.get(self.step, self.step)}”"
        return (
            f"{where}, {field_say(self.field)}: {self.message}" if self.field else f"{where} {self.message}"
        )


class FlowInvalid(ValueError):
    """The document is not a plan that can work; `.problems` say what to fix."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class Bad(ValueError):
    """Raised by a field's reader: the value is refused, with the reason."""


class Problems:
    """Collects problems while a document is read; `at(step)` scopes them to a step."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, step: str | None, field: str, message: str) -> None:
        self.items.append(Problem(step=step, field=field, message=message))

    def __bool__(self) -> bool:
        return bool(self.items)
