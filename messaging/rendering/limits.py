"""What rendering one text may cost (issue 18): the caps, one render's meter, and the
allowed filters wrapped so that each is metered and capped.

The meter of the render under way is in a context variable (``render_metered``): filters
are plain functions Django calls without the context. A cap passed inside an ``{% if a ==
b %}`` comparison is not lost: Django reads an error there as False and renders on, so the
meter keeps the first cap passed and the render raises it at the end.
"""

import functools
from contextvars import ContextVar
from types import MappingProxyType

from django.utils.formats import get_format

MAX_TEMPLATE_LENGTH = 5000
MAX_RENDERED_LENGTH = 1600  # Twilio's limit for one message body
# What one filter may make, and what one render may write out: more than a message holds,
# so that a long value can still be cut down (|truncatewords, |slice) or compared, and small
# enough that no text can make a render big.
MAX_VALUE_LENGTH = 4096
# What one render may do, in units of about one character handled by a filter (each
# filter counts what it is given and what it makes). What costs more counts more, about as
# much as it takes time (bench/templates.py): a filter call, and each letter of a date
# format (a month's name is translated), 1,024; a value written out ({{ … }}, a number
# localised), 512; a name looked up, 64; a character |truncatechars walks, 4 more. A
# normal text spends a few thousand; the most any text can is a few milliseconds.
MAX_RENDER_WORK = 65536
CALL_WORK = 1024
NODE_WORK = 512
NAME_WORK = 64
MAX_WITH_NESTING = 3  # one {% with a=… b=… %} names several values; nesting is for a value made of another
MAX_NESTING = 8  # {% if %} and {% with %} blocks inside one another
MAX_CONDITION_WORDS = 40  # of one {% if %} or {% elif %}
MAX_DATE_FORMAT = 32  # characters; each makes at most 32 ("c": 2008-01-02T10:30:00.000123+02:00)


class RenderError(ValueError):
    """The template does not render; the message says why, in a marketer's words."""


_TOO_MUCH_WORK = (
    "The text is too much work to render: use fewer filters and {{ … }} values, "
    "on shorter values, with shorter date formats."
)
_SIZED = (str, tuple, list, MappingProxyType, dict)  # what a template's values hold (template_values)


class _Meter:
    """One render's work and characters written out, and the first cap it passed."""

    __slots__ = ("problem", "work", "written")

    def __init__(self):
        self.work = self.written = 0
        self.problem = None

    def refuse(self, problem: str):
        if self.problem is None:
            self.problem = problem
        raise RenderError(problem)

    def spend(self, amount: int) -> None:
        self.work += amount
        if self.work > MAX_RENDER_WORK:
            self.refuse(_TOO_MUCH_WORK)

    def write(self, out: str) -> None:
        """A value written out by a node: NODE_WORK, and `out` against MAX_VALUE_LENGTH."""
        self.spend(NODE_WORK)
        self.written += len(out)
        if self.written > MAX_VALUE_LENGTH:
            self.refuse(
                f"The text renders more than {MAX_VALUE_LENGTH:,} characters; "
                f"a text message holds at most {MAX_RENDERED_LENGTH:,}."
            )


class _Unmetered(_Meter):
    """Outside ``render_metered`` (a template rendered by hand): the caps of a filter's
    result, no totals, nothing kept."""

    __slots__ = ()

    def refuse(self, problem: str):
        raise RenderError(problem)

    def spend(self, amount: int) -> None:
        pass

    def write(self, out: str) -> None:
        pass


_UNMETERED = _Unmetered()
_meter: ContextVar[_Meter | None] = ContextVar("sms_render_meter", default=None)


def meter() -> _Meter:
    """The meter of the render under way."""
    return _meter.get() or _UNMETERED


def render_metered(template, context) -> str:
    """`template` rendered over `context` with a meter of its own; RenderError at the
    first cap it passes."""
    metered = _Meter()
    reset = _meter.set(metered)
    try:
        out = template.render(context)
    except Exception as exc:
        if metered.problem is None:
            raise
        raise RenderError(metered.problem) from exc
    finally:
        _meter.reset(reset)
    if metered.problem:
        raise RenderError(metered.problem)
    return out


def size(value) -> int:
    """The characters `value` holds: a text's, a tuple's or mapping's items' (one each, and
    their own); numbers and dates count as nothing."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, tuple | list):
        return len(value) + sum(map(size, value))
    if isinstance(value, MappingProxyType | dict):
        return len(value) + sum(size(k) + size(v) for k, v in value.items())
    return 0


def date_format_work(fmt, default: str = "DATE_FORMAT") -> int:
    """The work of formatting a date with `fmt`: a format, a format's name, or nothing for
    `default`'s; refuse a format longer than MAX_DATE_FORMAT."""
    fmt = fmt if isinstance(fmt, str) and fmt else default
    if fmt.endswith("_FORMAT"):  # DATE_FORMAT, SHORT_DATE_FORMAT …: the one it names
        fmt = str(get_format(fmt))
    if len(fmt) > MAX_DATE_FORMAT:
        meter().refuse(
            f"A date format may be at most {MAX_DATE_FORMAT} characters long; this one is {len(fmt):,}."
        )
    return len(fmt) * CALL_WORK


# --- the filters ------------------------------------------------------------------------


def _added(value, arg) -> int:
    return size(value) + size(arg)


def _joined(value, arg) -> int:
    """`value`'s items joined with `arg` between them (a text's items are its characters)."""
    items = len(value) if isinstance(value, _SIZED) else 0
    return (items if isinstance(value, str) else size(value) - items) + max(items - 1, 0) * size(arg)


# What a filter would make, from what it is given, for those whose result can be any
# multiple of their input: checked before they run. Every other allowed filter makes at
# most a few times what it is given (|urlencode 12 times, |upper 3) and is checked after.
_BEFORE = {"add": _added, "join": _joined}


def _walked(value, length=None) -> int:
    """|truncatechars walks up to `length` characters one by one, in Python."""
    try:
        return 4 * min(len(value), int(length) + 1)
    except (TypeError, ValueError):
        return 0


# The work a filter does beyond its input and result.
_EXTRA = {"truncatechars": _walked}


def _clamped(limit: int):
    def clamp(arg):
        try:
            return max(-limit, min(int(arg), limit))
        except (TypeError, ValueError):
            return arg

    return clamp


# Filters whose argument sets an amount of work: clamped to what a text can hold.
_CLAMPS = {
    "truncatechars": _clamped(MAX_RENDERED_LENGTH),
    "truncatewords": _clamped(MAX_RENDERED_LENGTH),
    "floatformat": _clamped(20),
}


def capped(name: str, real):
    """The filter `real` (Django's `name`), its work counted and what it makes capped at
    MAX_VALUE_LENGTH (RenderError past it, never a shortened result)."""
    before, clamp, extra = _BEFORE.get(name), _CLAMPS.get(name), _EXTRA.get(name)
    dated = {"date": "DATE_FORMAT", "time": "TIME_FORMAT"}.get(name)

    @functools.wraps(real)  # Django checks the argument count on the real filter
    def filter_capped(value, *args, **kwargs):
        metered = meter()
        if clamp is not None and args:
            args = (clamp(args[0]),)
        spend = CALL_WORK + (len(value) if isinstance(value, _SIZED) else 0)
        if extra is not None:
            spend += extra(value, *args)
        if dated:
            spend += date_format_work(args[0] if args else None, dated)
        metered.spend(spend)
        if before is not None and (made := before(value, *args)) > MAX_VALUE_LENGTH:
            metered.refuse(_too_big(name, made))
        result = real(value, *args, **kwargs)
        # A filter that hands back what it was given (|default) makes nothing.
        if result is not value and not (args and result is args[0]) and (made := size(result)):
            if made > MAX_VALUE_LENGTH:
                metered.refuse(_too_big(name, made))
            metered.spend(made)
        return result

    return filter_capped


def _too_big(name: str, made: int) -> str:
    return f"|{name} would make {made:,} characters here; a filter may make at most {MAX_VALUE_LENGTH:,}."
