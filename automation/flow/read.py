"""Reading one object of a plan document: each reader checks one value, records a
problem naming the step and field when it is refused, and returns the value in its
normal form (what is stored and exported). Pure: no database."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.utils.dateparse import parse_duration

from automation.flow.problems import Problem, Problems
from tracking.models import EVENT_TYPE

STEP_ID = re.compile(r"[a-z0-9-]{1,50}")
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
HH_MM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
# Contact fields a plan may read and write (docs/reference.md §6 `save_as`), besides attributes.<key>.
CONTACT_FIELDS = ("first_name", "last_name", "email", "timezone", "locale")
_ATTRIBUTE = re.compile(r"attributes\.([A-Za-z0-9_-]{1,50})")
MAX_TEXT = 5000
_MISSING = object()


def shown(value: Any) -> str:
    """`value` as a problem quotes it: its repr, cut short (a document may hold a long one)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


# docs/reference.md §6: durations are at most P366D (a journey's lifetime, a wait, a delay).
MAX_DURATION = timedelta(days=366)


def duration_parse(text: Any, *, clamp: bool = False) -> timedelta:
    """An ISO 8601 duration (``PT2H``, ``P7D``, ``P1DT30M``) as a timedelta: the one home of
    reading a plan's durations. ValueError saying why when it is not one, not longer than
    zero or longer than MAX_DURATION — unless `clamp`: then a longer one is MAX_DURATION
    (what the engine does with a document stored before the bound, so that no date
    arithmetic on it can overflow)."""
    if not isinstance(text, str) or not text.startswith("P"):
        raise ValueError(f"{shown(text)} is not an ISO 8601 duration such as PT2H or P7D")
    try:
        value = parse_duration(text)
    except OverflowError:  # more days than a timedelta holds
        value = timedelta.max
    if value is None:
        raise ValueError(f"{shown(text)} is not an ISO 8601 duration such as PT2H or P7D")
    if value <= timedelta(0):
        raise ValueError(f"{text[:40]} must be longer than zero")
    if value > MAX_DURATION:
        if clamp:
            return MAX_DURATION
        raise ValueError(f"{text[:40]} is longer than {MAX_DURATION.days} days: at most P366D is allowed")
    return value


_UNIT_SECONDS = {"days": 86400, "hours": 3600, "minutes": 60}
_SIMPLE = re.compile(r"P(?:(\d{1,5})D|T(\d{1,5})H|T(\d{1,5})M)")


def duration_split(iso: str | None) -> tuple[int | None, str]:
    """`PT2H` → (2, "hours"): the largest unit the duration is a whole number of (one
    stored longer than MAX_DURATION: as the engine takes it, 366 days)."""
    if not iso:
        return None, "hours"
    try:
        seconds = duration_parse(iso, clamp=True).total_seconds()
    except ValueError:
        return None, "hours"
    written = _SIMPLE.fullmatch(iso)
    if written:  # as the marketer wrote it: PT24H stays 24 hours
        amount = next(g for g in written.groups() if g is not None)
        unit = ("days", "hours", "minutes")[written.groups().index(amount)]
        if int(amount) * _UNIT_SECONDS[unit] == seconds:
            return int(amount), unit
    for unit in ("days", "hours"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return int(seconds // _UNIT_SECONDS[unit]), unit
    return max(1, round(seconds / 60)), "minutes"


def duration_say(iso: str) -> str:
    """`PT2H` → "2 hours" (`PT1M` → "1 minute")."""
    amount, unit = duration_split(iso)
    if amount is None:
        return iso
    return f"{amount} {unit[:-1] if amount == 1 else unit}"


SHORT_WAIT = timedelta(minutes=10)


def duration_warning(iso: str) -> str | None:
    """A wait (a timeout, a delay) so short it may be in the wrong unit (a plan warning)."""
    try:
        short = duration_parse(iso) < SHORT_WAIT
    except ValueError:
        return None
    if short:
        return f"waits only {duration_say(iso)}: is that the unit you meant (not hours)?"
    return None


def field_path_problem(path: Any) -> str | None:
    """Why `path` is not a contact field a plan may use, or None."""
    if isinstance(path, str) and (path in CONTACT_FIELDS or _ATTRIBUTE.fullmatch(path)):
        return None
    return (
        f"{shown(path)} is not a contact field: use one of {', '.join(CONTACT_FIELDS)} "
        "or attributes.<name> (letters, digits, _ and -)"
    )


def step_label(raw: Any, index: int) -> str:
    """How problems name the step at `index` of the document's steps: its id when it is
    one, else its place (``#3``)."""
    step_id = raw.get("id") if isinstance(raw, dict) else None
    return step_id if isinstance(step_id, str) and STEP_ID.fullmatch(step_id) else f"#{index + 1}"


def problem_at(document: Any, path: tuple, message: str) -> Problem:
    """A problem with the value at `path` (keys and list indexes from the top of the raw
    document), naming its step and field as every other problem does."""
    step = None
    steps = document.get("steps") if isinstance(document, dict) else None
    if len(path) >= 2 and path[0] == "steps" and isinstance(steps, list) and isinstance(path[1], int):
        step, path = step_label(steps[path[1]], path[1]), path[2:]
    field = ""
    for part in path:
        part = part if isinstance(part, int) else part[:50]
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else part)
    return Problem(step, field, message)


class Reader:
    """Reads the keys of one object (`raw`) of step `step` (None: the plan), at `path`."""

    def __init__(self, raw: Any, *, problems: Problems, step: str | None, path: str = "", allowed=()):
        self.problems = problems
        self.step = step
        self.path = path
        self.raw = raw if isinstance(raw, dict) else {}
        if not isinstance(raw, dict):
            self.bad("", "must be an object")
        elif allowed:
            for key in raw:
                if key not in allowed:
                    self.bad(key, f"unknown key {shown(key)} (allowed: {', '.join(allowed)})")

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path and key else (self.path or key)

    def bad(self, key: str, message: str) -> None:
        self.problems.add(self.step, self.where(key), message)

    def child(self, raw: Any, key: str, allowed=()) -> Reader:
        return Reader(raw, problems=self.problems, step=self.step, path=self.where(key), allowed=allowed)

    def get(self, key: str, default: Any = _MISSING) -> Any:
        if key in self.raw:
            return self.raw[key]
        if default is _MISSING:
            self.bad(key, "is required")
            return None
        return default

    # --- typed readers --------------------------------------------------------------

    def text(self, key: str, *, required: bool = True, template: bool = True, default: str = "") -> str:
        value = self.get(key, _MISSING if required else default)
        if value is None and not required:
            return default
        if not isinstance(value, str):
            if value is not None:
                self.bad(key, "must be text")
            return default
        if len(value) > MAX_TEXT:
            self.bad(key, f"is {len(value):,} characters long; at most {MAX_TEXT:,} are allowed")
            return default
        if template and value:
            from automation.flow.context import text_template_error

            error = text_template_error(template=value)
            if error:
                self.bad(key, error)
        return value

    def plain(self, key: str, *, max_length: int = 200, required: bool = True, default: str = "") -> str:
        value = self.get(key, _MISSING if required else default)
        if value is None and not required:
            return default
        if not isinstance(value, str) or len(value) > max_length:
            self.bad(key, f"must be text of at most {max_length} characters")
            return default
        return value

    def exit(self, key: str, *, required: bool = True) -> str | None:
        """The id of the step to go to, or None (the enrollment completes)."""
        value = self.get(key, _MISSING if required else None)
        if value is None:
            return None
        if not isinstance(value, str) or not STEP_ID.fullmatch(value):
            self.bad(key, f"{shown(value)} is not a step id (or null to end the enrollment)")
            return None
        return value

    def duration(self, key: str, *, required: bool = True) -> str | None:
        value = self.get(key, _MISSING if required else None)
        if value is None:
            if required and key in self.raw:
                self.bad(key, "is required: a duration such as PT2H or P7D")
            return None
        try:
            duration_parse(value)
        except ValueError as exc:
            self.bad(key, str(exc))
            return None
        return value  # as written: the marketer's PT24H stays PT24H

    def integer(
        self, key: str, *, default: Any = _MISSING, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        value = self.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.bad(key, f"{shown(value)} is not a whole number")
            return None
        if minimum is not None and value < minimum:
            self.bad(key, f"must be at least {minimum}")
            return None
        if maximum is not None and value > maximum:
            self.bad(key, f"must be at most {maximum:,}")
            return None
        return value

    def number(self, key: str) -> int | float | None:
        value = self.get(key, None)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.bad(key, f"{shown(value)} is not a number")
            return None
        return value

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            self.bad(key, "must be true or false")
            return default
        return value

    def choice(self, key: str, choices: tuple[str, ...], *, default: Any = _MISSING) -> str | None:
        value = self.get(key, default)
        if value not in choices:
            if value is not None or default is _MISSING:
                self.bad(key, f"{shown(value)} is not one of {', '.join(choices)}")
            return None
        return value

    def goal(self, key: str) -> str | None:
        """A goal's slug (optional); whether the plan lists it is the graph's to check."""
        value = self.get(key, None)
        if value is not None and (not isinstance(value, str) or not SLUG.fullmatch(value)):
            self.bad(key, f"{shown(value)} is not a goal's slug")
            return None
        return value

    def field_path(self, key: str, *, required: bool = True) -> str | None:
        value = self.get(key, _MISSING if required else None)
        if value is None:
            return None
        problem = field_path_problem(value)
        if problem:
            self.bad(key, problem)
            return None
        return value

    def event_type(self, key: str) -> str | None:
        value = self.get(key)
        if not isinstance(value, str) or not EVENT_TYPE.fullmatch(value):
            if value is not None or key in self.raw:
                self.bad(key, f"{shown(value)} is not an event type ([a-z0-9_.-], at most 50)")
            return None
        return value

    def items(self, key: str, *, most: int, what: str, required: bool = True) -> list:
        """The list at `key`, refused past `most` items ("at most 50 rules"): a list is
        never cut short in silence. The items up to the cap are read on, so that their own
        problems are named too."""
        value = self.get(key, _MISSING if required else [])
        if value is None:  # missing (said already) or null
            if key in self.raw:
                self.bad(key, "must be a list")
            return []
        if not isinstance(value, list):
            self.bad(key, "must be a list")
            return []
        if len(value) > most:
            self.bad(key, f"has {len(value):,} {what}: at most {most} are allowed")
        return value[:most]
