"""The sandbox engine: Django's template engine with only the tags and filters a text has
use for, names that are looked up and never called, blocks and conditions of a bounded
shape, and every value written out counted (``limits``)."""

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
from django.template.base import (
    FilterExpression,
    Lexer,
    Parser,
    TokenType,
    Variable,
    VariableDoesNotExist,
    VariableNode,
)
from django.template.context import BaseContext
from django.template.defaulttags import FirstOfNode, NowNode

from messaging.rendering import limits
from messaging.rendering.limits import (
    CALL_WORK,
    MAX_CONDITION_WORDS,
    MAX_DATE_FORMAT,
    MAX_NESTING,
    MAX_WITH_NESTING,
    NAME_WORK,
)

# The tags a text message has use for; the end/else tags of each are parsed by the tag itself.
ALLOWED_TAGS = ("if", "firstof", "with", "now", "comment")
_TAG_PARTS = {"elif", "else", "endif", "endwith", "endcomment"}
# Filters whose cost follows their input (no padding to a width, no pretty-printing).
ALLOWED_FILTERS = (
    "add", "capfirst", "cut", "date", "default", "default_if_none", "first", "floatformat",
    "join", "last", "length", "lower", "pluralize", "slice", "time", "title", "truncatechars",
    "truncatewords", "upper", "urlencode", "wordcount", "yesno",
)  # fmt: skip


class Refused(TemplateSyntaxError):
    """A template whose shape the sandbox does not take; the message is a marketer's."""


def _shape_check(tokens) -> None:
    """Refuse a tag a text has no use for, blocks nested past the caps, a condition past
    MAX_CONDITION_WORDS, a ``{% now %}`` format past MAX_DATE_FORMAT. Before Django parses
    anything: its parser, and ``{% if %}``'s, recurse once per block and per ``not``."""
    blocks: list[str] = []
    in_comment = False
    for token in tokens:
        if token.token_type != TokenType.BLOCK:
            continue
        bits = token.split_contents() or [""]
        name = bits[0]
        if name not in ALLOWED_TAGS and name not in _TAG_PARTS:
            allowed = ", ".join(f"{{% {t} %}}" for t in ALLOWED_TAGS)
            raise Refused(f"{{% {name} %}} cannot be used in a text message (allowed: {allowed}).")
        if in_comment:  # Django skips what a comment holds
            in_comment = name != "endcomment"
            continue
        if name == "comment":
            in_comment = True
        elif name in ("if", "with"):
            blocks.append(name)
            if blocks.count("with") > MAX_WITH_NESTING:
                raise Refused(
                    f"{{% with %}} may be nested at most {MAX_WITH_NESTING} deep "
                    "(one {% with a=… b=… %} can name several values)."
                )
            if len(blocks) > MAX_NESTING:
                raise Refused(f"{{% if %}} and {{% with %}} may be nested at most {MAX_NESTING} deep.")
        elif name in ("endif", "endwith") and blocks:
            blocks.pop()
        if name in ("if", "elif") and len(bits) - 1 > MAX_CONDITION_WORDS:
            raise Refused(
                f"An {{% {name} %}} condition may have at most {MAX_CONDITION_WORDS} words; "
                f"this one has {len(bits) - 1:,}."
            )
        if name == "now" and len(bits) > 1 and len(bits[1]) - 2 > MAX_DATE_FORMAT:  # less its quotes
            raise Refused(
                f"A date format may be at most {MAX_DATE_FORMAT} characters long; "
                f"this one is {len(bits[1]) - 2:,}."
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
        limits.meter().spend(NAME_WORK)
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


class _Written:
    """A node that writes a value out (``{{ … }}``, ``{% firstof %}``, ``{% now %}``): its
    work and what it writes are counted."""

    def render(self, context):
        out = super().render(context)
        limits.meter().write(out)
        return out


class _Now(_Written, NowNode):
    def render(self, context):
        limits.meter().spend(CALL_WORK + limits.date_format_work(self.format_string))
        return super().render(context)


_WRITTEN = {
    VariableNode: type("_Variable", (_Written, VariableNode), {}),
    FirstOfNode: type("_FirstOf", (_Written, FirstOfNode), {}),
    NowNode: _Now,
}


class _Parser(Parser):
    def compile_filter(self, token):
        return _Expression(token, self)

    def extend_nodelist(self, nodelist, node, token):
        written = _WRITTEN.get(type(node))
        if written is not None:
            node.__class__ = written  # the same node, its render counted
        super().extend_nodelist(nodelist, node, token)


class _Template(Template):
    def compile_nodelist(self):
        tokens = Lexer(self.source).tokenize()
        _shape_check(tokens)
        return _Parser(tokens, builtins=self.engine.template_builtins, origin=self.origin).parse()


class _SandboxEngine(Engine):
    default_builtins = []  # none of Django's: only the library below

    def from_string(self, template_code):
        return _Template(template_code, engine=self)


_library = Library()
for _name in ALLOWED_TAGS:
    _library.tag(_name, defaulttags.register.tags[_name])
for _name in ALLOWED_FILTERS:
    _library.filters[_name] = limits.capped(_name, defaultfilters.register.filters[_name])

# No loaders (no include/extends can find anything), no autoescape (SMS is plain text).
_engine = _SandboxEngine(autoescape=False, string_if_invalid="", loaders=[], libraries={})
_engine.template_builtins = [_library]


def compiled_fresh(template: str) -> Template:
    """A template of its own (not the shared cache's), for a caller that changes its nodes."""
    return _engine.from_string(template)


def written_class(node_type: type) -> type:
    """The sandbox's class for nodes of `node_type` that write a value out (counted)."""
    return _WRITTEN[node_type]


@functools.lru_cache(maxsize=512)
def compiled(template: str) -> Template:
    """Compiling is most of a render's cost; a text compiles to the same template every
    time (compiled templates keep no per-render state), so the last 512 are kept. A
    refused or broken template is not cached: it raises again each time."""
    return _engine.from_string(template)


def syntax_message(exc: TemplateSyntaxError) -> str:
    """Why a template does not compile, in a marketer's words."""
    text = str(exc)
    if isinstance(exc, Refused):
        return text
    if text.startswith("Invalid filter:"):
        name = text.split(":", 1)[1].strip().strip("'")
        return f"The filter |{name} cannot be used in a text message (allowed: {', '.join(ALLOWED_FILTERS)})."
    return f"The text does not render: {text}"


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


def render_plain(template_compiled: Template, context: Mapping, *, what: str) -> str:
    """Render over a plain `context` (``template_values``), metered, stripped; any error as
    RenderError ("The `what` does not render: …")."""
    try:
        out = limits.render_metered(
            template_compiled, Context(dict(template_values(context)), autoescape=False)
        )
    except limits.RenderError:
        raise
    except Exception as exc:  # a filter given a value it cannot handle
        raise limits.RenderError(f"The {what} does not render: {exc}") from exc
    return out.strip()
