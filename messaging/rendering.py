"""Rendering a marketer's text for one contact: Django's template language in a sandbox.

A marketer's text is data, not code (issue 9):

- **A plain, read-only context.** Templates see only the values the caller puts in the
  context (``contacts.selectors.contact_template_values`` and the enrollment's values built
  by automation): strings, numbers, dates and read-only mappings/tuples — never a model
  instance, so no template can walk a relation to another row.
- **Lookups, never calls** (issue 18). ``a.b`` is a key of a mapping, ``a.0`` an index of
  a tuple or a text, and nothing else: no attribute or method is looked up, nothing is
  called (``{{ contact.phone.encode }}``, ``{{ contact.attributes.items }}`` render as
  empty, like an unknown name). Filters (``|upper``, ``|date``) are how a value is changed.
- **Only what a text needs.** The engine knows a few tags (``if``, ``firstof``, ``with``,
  ``now``, ``comment``) and the filters whose cost is linear in their input; loops,
  ``lorem``, ``include``, ``load`` and the padding filters are not there at all. A template
  that uses one is refused when it is saved (``sms_template_problem``).
- **Bounded output.** A template may be at most ``MAX_TEMPLATE_LENGTH`` characters and
  what it renders at most ``MAX_RENDERED_LENGTH`` (Twilio's limit for one message); a
  render past it raises ``RenderError`` for that one message.
- **Sent as written.** No HTML escaping: SMS is plain text.
"""

import functools
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType

from django.template import (
    Context,
    Engine,
    Library,
    Template,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import FilterExpression, Lexer, Parser, TokenType, Variable, VariableDoesNotExist
from django.template.context import BaseContext

MAX_TEMPLATE_LENGTH = 5000
MAX_RENDERED_LENGTH = 1600  # Twilio's limit for one message body

# The tags a text message has use for; the end/else tags of each are parsed by the tag itself.
ALLOWED_TAGS = ("if", "firstof", "with", "now", "comment")
_TAG_PARTS = {"elif", "else", "endif", "endwith", "endcomment"}
# Filters whose cost is linear in their input (no padding to a width, no pretty-printing).
ALLOWED_FILTERS = (
    "add", "capfirst", "cut", "date", "default", "default_if_none", "first", "floatformat",
    "join", "last", "length", "lower", "pluralize", "slice", "time", "title", "truncatechars",
    "truncatewords", "upper", "urlencode", "wordcount", "yesno",
)  # fmt: skip

_library = Library()
for _name in ALLOWED_TAGS:
    _library.tag(_name, defaulttags.register.tags[_name])
for _name in ALLOWED_FILTERS:
    _library.filters[_name] = defaultfilters.register.filters[_name]


def _bounded(limit: int):
    def clamp(arg):
        try:
            return max(-limit, min(int(arg), limit))
        except (TypeError, ValueError):
            return arg

    return clamp


# Filters whose argument sets an amount of work: clamped to what a text can hold.
for _name, _clamp in (
    ("truncatechars", _bounded(MAX_RENDERED_LENGTH)),
    ("truncatewords", _bounded(MAX_RENDERED_LENGTH)),
    ("floatformat", _bounded(20)),
):
    _filter = defaultfilters.register.filters[_name]
    _library.filters[_name] = functools.wraps(_filter)(
        lambda value, arg=None, _f=_filter, _c=_clamp: _f(value, _c(arg)) if arg is not None else _f(value)
    )


# What a part of a name is a key of (the context, the mappings of template_values) or an
# index of.
_KEYED = (BaseContext, MappingProxyType, dict)
_INDEXED = (tuple, str)


class _Lookup(Variable):
    """A name in a template, looked up only as keys of mappings and indexes of tuples and
    texts: never an attribute, never a call (Django's own lookup calls what it finds)."""

    __slots__ = ()

    def _resolve_lookup(self, context):
        current = context
        for bit in self.lookups:
            try:
                if isinstance(current, _KEYED):
                    current = current[bit]
                elif isinstance(current, _INDEXED):
                    current = current[int(bit)]
                else:
                    raise LookupError
            except (LookupError, ValueError):
                raise VariableDoesNotExist("Failed lookup for key [%s]", (bit,)) from None
        return current


class _Expression(FilterExpression):
    """A value and its filters, every name in it a ``_Lookup``."""

    __slots__ = ()

    def __init__(self, token, parser):
        super().__init__(token, parser)
        names = [arg for _, args in self.filters for lookup, arg in args if lookup]
        for name in [self.var, *names] if self.is_var else names:
            name.__class__ = _Lookup  # the same name, looked up the sandbox's way


class _Parser(Parser):
    def compile_filter(self, token):
        return _Expression(token, self)


class _Template(Template):
    def compile_nodelist(self):
        tokens = Lexer(self.source).tokenize()
        return _Parser(tokens, builtins=self.engine.template_builtins, origin=self.origin).parse()


class _SandboxEngine(Engine):
    default_builtins = []  # none of Django's: only the library above

    def from_string(self, template_code):
        return _Template(template_code, engine=self)


# No loaders (no include/extends can find anything), no autoescape (SMS is plain text).
_engine = _SandboxEngine(autoescape=False, string_if_invalid="", loaders=[], libraries={})
_engine.template_builtins = [_library]


class RenderError(ValueError):
    """The template does not render; the message says why, in a marketer's words."""


def sms_template_problem(template: str) -> str | None:
    """Why `template` may not be used in a text message, or None. Checked on save and
    import, before any contact sees it."""
    if len(template) > MAX_TEMPLATE_LENGTH:
        return f"The text is {len(template):,} characters long; at most {MAX_TEMPLATE_LENGTH:,} are allowed."
    for token in Lexer(template).tokenize():
        if token.token_type != TokenType.BLOCK:
            continue
        name = (token.split_contents() or [""])[0]
        if name not in ALLOWED_TAGS and name not in _TAG_PARTS:
            allowed = ", ".join(f"{{% {t} %}}" for t in ALLOWED_TAGS)
            return f"{{% {name} %}} cannot be used in a text message (allowed: {allowed})."
    try:
        _compiled(template)
    except TemplateSyntaxError as exc:
        return _syntax_message(exc)
    return None


def _syntax_message(exc: TemplateSyntaxError) -> str:
    text = str(exc)
    if text.startswith("Invalid filter:"):
        name = text.split(":", 1)[1].strip().strip("'")
        return f"The filter |{name} cannot be used in a text message (allowed: {', '.join(ALLOWED_FILTERS)})."
    return f"The text does not render: {text}"


@functools.lru_cache(maxsize=512)
def _compiled(template: str):
    """Compiling is most of a render's cost; a text compiles to the same template every
    time (compiled templates keep no per-render state), so the last 512 are kept. A
    syntax error is not cached: it raises again each time."""
    return _engine.from_string(template)


def template_values(value):
    """`value` as a template may see it: mappings become read-only mappings, lists tuples,
    dates and numbers stay as they are (immutable), anything else becomes its text."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): template_values(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(template_values(v) for v in value)
    if value is None or isinstance(value, str | int | float | bool | Decimal | date | datetime):
        return value
    return str(value)


def sms_body_render(*, template: str, context: Mapping) -> str:
    """Render a text over a plain `context` (see ``template_values``); raise RenderError."""
    problem = None if len(template) <= MAX_TEMPLATE_LENGTH else sms_template_problem(template)
    if problem:
        raise RenderError(problem)
    try:
        compiled = _compiled(template)
    except TemplateSyntaxError as exc:
        raise RenderError(_syntax_message(exc)) from exc
    try:
        body = compiled.render(Context(dict(template_values(context)), autoescape=False)).strip()
    except Exception as exc:  # a filter given a value it cannot handle
        raise RenderError(f"The text does not render: {exc}") from exc
    if len(body) > MAX_RENDERED_LENGTH:
        raise RenderError(
            f"The text renders {len(body):,} characters; "
            f"a text message holds at most {MAX_RENDERED_LENGTH:,}."
        )
    return body
