"""Rendering a marketer's text for one contact: Django's template language in a sandbox.

A marketer's text is data, not code (issue 9):

- **A plain, read-only context.** Templates see only the values the caller puts in the
  context (``contacts.selectors.contact_template_values`` and the enrollment's values built
  by automation): strings, numbers and read-only mappings/tuples — never a model
  instance, so no template can walk a relation to another row or call a method that
  changes anything.
- **Only what a text needs.** The engine knows a few tags (``if``, ``firstof``, ``with``,
  ``now``, ``comment``) and the filters whose cost is linear in their input; loops,
  ``lorem``, ``include``, ``load`` and the padding filters are not there at all. A template
  that uses one is refused when it is saved (``sms_template_problem``).
- **Bounded output.** A template may be at most ``MAX_TEMPLATE_LENGTH`` characters and
  what it renders at most ``MAX_RENDERED_LENGTH`` (Twilio's limit for one message); a
  render past it raises ``RenderError`` for that one message.
- **Sent as written.** No HTML escaping: SMS is plain text.
- **A URL keeps its shape.** In a URL (``url_render``, plan `http` steps) what each value
  puts in is percent-encoded, so no value can add a path segment, a query parameter or a
  fragment; the template's own text stays as written.
"""

import functools
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from urllib.parse import quote

from django.template import Context, Engine, Library, TemplateSyntaxError, defaultfilters, defaulttags
from django.template.base import Lexer, TokenType, VariableNode

MAX_TEMPLATE_LENGTH = 5000
MAX_RENDERED_LENGTH = 1600  # Twilio's limit for one message body
MAX_URL_LENGTH = 4000  # a rendered URL; web servers refuse longer request lines

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


class _SandboxEngine(Engine):
    default_builtins = []  # none of Django's: only the library above


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
    body = _render(compiled, context)
    if len(body) > MAX_RENDERED_LENGTH:
        raise RenderError(
            f"The text renders {len(body):,} characters; "
            f"a text message holds at most {MAX_RENDERED_LENGTH:,}."
        )
    return body


def _render(compiled, context: Mapping) -> str:
    try:
        return compiled.render(Context(dict(template_values(context)), autoescape=False)).strip()
    except Exception as exc:  # a filter given a value it cannot handle
        raise RenderError(f"The text does not render: {exc}") from exc


# --- URLs ---------------------------------------------------------------------------------


class _EncodedVariable(VariableNode):
    """`{{ value|filters }}` whose output, after every filter, is percent-encoded."""

    def render(self, context):
        return quote(super().render(context), safe="")


class _EncodedFirstOf(defaulttags.FirstOfNode):
    def render(self, context):
        out = super().render(context)
        return out if self.asvar else quote(out, safe="")  # `as name`: encoded where it is shown


@functools.lru_cache(maxsize=256)
def _url_compiled(template: str):
    """A URL template compiled afresh (the text cache's templates are shared: never changed)
    with every node that outputs a value encoding it."""
    compiled = _engine.from_string(template)
    for node in compiled.nodelist.get_nodes_by_type(VariableNode):
        node.__class__ = _EncodedVariable
    for node in compiled.nodelist.get_nodes_by_type(defaulttags.FirstOfNode):
        node.__class__ = _EncodedFirstOf
    return compiled


def url_render(*, template: str, context: Mapping) -> str:
    """Render a URL over a plain `context`: what each value puts in (``{{ … }}``,
    ``{% firstof %}``) is percent-encoded — every character but letters, digits and
    ``_.-~``, so ``/ ? # & =`` in a value cannot change the path or the query — and the
    template's own text stays as written. Raise RenderError."""
    problem = sms_template_problem(template) if len(template) > MAX_TEMPLATE_LENGTH else None
    if problem:
        raise RenderError(problem)
    try:
        compiled = _url_compiled(template)
    except TemplateSyntaxError as exc:
        raise RenderError(_syntax_message(exc)) from exc
    url = _render(compiled, context)
    if len(url) > MAX_URL_LENGTH:
        raise RenderError(f"The URL renders {len(url):,} characters; at most {MAX_URL_LENGTH:,} are allowed.")
    return url
