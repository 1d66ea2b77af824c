"""What a step kind is (docs/architecture.md §3, §4): one registered class that knows its keys (reading and
checking them, its warnings), its exits (which one a timer takes), its label in the
diagram, what it awaits, its branches and answers for the report, and what it does when
an enrollment enters it or, for a step that waits, when the awaited thing comes. Nothing
outside ``automation.flow.kinds`` knows a kind by name: the interpreter
(``automation.engine.interpreter``) calls these methods with a runtime (``Runtime``
below) through which a kind acts on the enrollment; the warnings, the diagram, the report
and the simulator ask the kind. ``automation/tests/test_kinds.py`` runs each registered
kind's `example` through every door."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol

from automation.flow.read import Reader


@dataclass(frozen=True)
class Step:
    """One step of a published revision: frozen, shared between threads."""

    id: str
    name: str
    type: str
    goal: str | None
    data: Mapping[str, Any]  # the kind's own keys in their normal form (read-only)

    @property
    def kind(self) -> StepKind:
        from automation.flow.kinds import KINDS

        return KINDS[self.type]


@dataclass(frozen=True)
class Exit:
    """A way out of a step: the `field` that names it, a `label` in a marketer's words for
    the diagram and the step list, the step it goes to (None: the enrollment completes),
    whether a timer takes it (a timeout, a delay: drawn dashed), the `goal` taking it
    records (an ask's rule), and the `event` that takes it (a wait for an event): a goal
    that event reaches converts on the way, with its value as revenue."""

    field: str
    label: str
    target: str | None
    timed: bool = False
    goal: str | None = None
    event: str | None = None


@dataclass(frozen=True)
class Go:
    """Leave the step for `next` (None: the enrollment completes)."""

    next: str | None


class Wait:
    """Stay at the step: it waits (for a reply, an event, a time, an answer)."""


WAIT = Wait()
Outcome = Go | Wait


@dataclass(frozen=True)
class Reply:
    text: str  # as the contact wrote it
    normalized: str  # automation.flow.matching.reply_normalize


@dataclass(frozen=True)
class Event:
    type: str
    data: Mapping[str, Any]


class Runtime(Protocol):
    """What a step may do to the enrollment it runs for (automation.engine.interpreter)."""

    now: datetime
    reply: Reply | None
    event: Event | None
    other_count: int  # unmatched replies answered at this visit of the step

    def text_send(
        self,
        *,
        step: Step,
        text: str,
        media: tuple[str, ...] = (),
        purpose: str,
        whatsapp_template: Mapping[str, Any] | None = None,  # WhatsApp outside the 24-hour window
    ) -> None: ...
    def goal_convert(self, slug: str) -> None: ...
    def field_get(self, path: str) -> Any: ...
    def field_set(self, path: str, value: Any) -> None: ...
    def timer_set(self, at: datetime | None, *, after_prompt: timedelta | None = None) -> None: ...
    def branch_take(self, *, step: Step, name: str) -> None: ...
    def branch_taken(self, step: Step) -> str | None: ...
    def note(self, text: str) -> None: ...  # a line for the step history (what was saved, answered)
    def answer(self, kind: str, value: Any) -> None: ...  # what moved it on, for the report
    def random(self) -> float: ...
    def local_now(self) -> datetime: ...
    def http_call(self, *, step: Step) -> None: ...
    def plan_enter(self, slug: str) -> None: ...
    def other_answered(self) -> None: ...


class StepKind:
    """Base of every kind. `waits`: the step stops a run (an `ask`, `wait_event` or
    `delay`), so a path through it is not a loop without a wait. `reports_answers`: the
    report lists the answers given at the step (``Runtime.answer``). `calls_web_service`:
    entering the step calls a web service (``Runtime.http_call``), whose answer comes back
    through `on_http_answer` (``automation.engine.http_steps``)."""

    type: ClassVar[str]
    keys: ClassVar[tuple[str, ...]]
    waits: ClassVar[bool] = False
    reports_answers: ClassVar[bool] = False
    calls_web_service: ClassVar[bool] = False
    description: ClassVar[str] = ""
    form_class: ClassVar[type]  # its admin form: an automation.flow.forms.StepForm

    # --- the format ------------------------------------------------------------------
    def read(self, r: Reader) -> dict[str, Any]:
        """The kind's keys in their normal form (problems recorded on `r`)."""
        raise NotImplementedError

    def example(self) -> dict[str, Any]:
        """The keys of a sample step of this kind in their normal form, every exit going
        nowhere (None): the test over the registry (automation/tests/test_kinds.py) takes
        it through import and export, the admin form, the engine, Try it and the report."""
        raise NotImplementedError(f"step kind {self.type!r} has no example")

    def warnings(self, data: Mapping[str, Any], *, plan: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(where, message) of what may be a mistake in a step that works (`plan`: the whole
        document in its normal form); the marketer decides."""
        return []

    def exits(self, data: Mapping[str, Any]) -> list[Exit]:
        """Every way out of the step."""
        return [Exit("next", "then", data.get("next"))]

    def keywords(self, data: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(field, word) for every keyword the step listens for (compliance check)."""
        return []

    def label(self, step: Step) -> str:
        """What the step does, in a line (its whole text: whoever shows it shortens it at a
        word, or wraps it)."""
        return self.type

    def texts(self, data: Mapping[str, Any]) -> list[str]:
        """The texts the step may send (reports, previews)."""
        return []

    def prompt(self, data: Mapping[str, Any]) -> str:
        """The text the step sends when an enrollment enters it ("" when none): the first
        one a plan sends is checked for what carriers audit."""
        return ""

    def asks_for(self, data: Mapping[str, Any], word: str) -> bool:
        """Whether a reply that is `word` (normalized), or starts with it, is one the step
        waits for: a plan with double opt-in starts with a step that asks for YES."""
        return False

    def awaited_event(self, data: Mapping[str, Any]) -> str | None:
        """The type of the event (docs/reference.md §7) the step waits for, if any: the simulator
        offers to send it."""
        return None

    def branches(self, data: Mapping[str, Any]) -> list[tuple[str, float]]:
        """(name, weight) of each branch an enrollment draws at random at the step and keeps
        (an A/B split): the report compares them, the simulator lets a marketer pick one."""
        return []

    def secrets(self, data: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(where, name) of each web service secret the step sends (plan warnings)."""
        return []

    # --- running ------------------------------------------------------------------------
    def enter(self, step: Step, rt: Runtime) -> Outcome:
        raise NotImplementedError

    def on_reply(self, step: Step, rt: Runtime) -> Outcome | None:
        """A reply while the enrollment is at this step: an Outcome when the step takes it."""
        return None

    def on_unmatched(self, step: Step, rt: Runtime) -> Outcome | None:
        """A reply no step and no plan took: the step's answer to it, if any."""
        return None

    def on_timer(self, step: Step, rt: Runtime) -> Outcome | None:
        return None

    def on_event(self, step: Step, rt: Runtime) -> Outcome | None:
        return None

    def on_http_answer(self, step: Step, rt: Runtime) -> Outcome | None:
        return None

    def timer_after_prompt(self, data: Mapping[str, Any]) -> timedelta | None:
        """A timeout that measures silence from when the step's text was sent."""
        return None
