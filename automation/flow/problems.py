"""How the plan format reports what is wrong: one problem per step and field, in a
marketer's words (CONTRACT §6: "naming the step and field")."""

from __future__ import annotations

from dataclasses import dataclass


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
