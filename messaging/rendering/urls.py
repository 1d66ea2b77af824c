"""Rendering a URL (plan ``http`` steps, docs/reference.md §6): a URL keeps its shape. What each
value puts in (``{{ … }}``, ``{% firstof %}``) is percent-encoded after all its filters —
every character but letters, digits and ``_.-~`` — so ``/ ? # & =`` in a contact's reply
cannot add a path segment, a query parameter or a fragment; the template's own text stays
as written. Same sandbox, caps and errors as a text (``messaging.rendering``)."""

import functools
from collections.abc import Mapping
from urllib.parse import quote

from django.template import TemplateSyntaxError
from django.template.base import VariableNode
from django.template.defaulttags import FirstOfNode

from messaging.rendering.engine import compiled_fresh, render_plain, syntax_message, written_class
from messaging.rendering.limits import MAX_TEMPLATE_LENGTH, RenderError

MAX_URL_LENGTH = 4000  # a rendered URL; web servers refuse longer request lines


class _EncodedVariable(written_class(VariableNode)):
    """`{{ value|filters }}` whose output, after every filter, is percent-encoded."""

    def render(self, context):
        return quote(super().render(context), safe="")


class _EncodedFirstOf(written_class(FirstOfNode)):
    def render(self, context):
        out = super().render(context)
        return out if self.asvar else quote(out, safe="")  # `as name`: encoded where it is shown


@functools.lru_cache(maxsize=256)
def _url_compiled(template: str):
    """A URL template compiled afresh (the text cache's templates are shared: never changed)
    with every node that writes a value out encoding it."""
    template_compiled = compiled_fresh(template)
    for node in template_compiled.nodelist.get_nodes_by_type(VariableNode):
        node.__class__ = _EncodedVariable
    for node in template_compiled.nodelist.get_nodes_by_type(FirstOfNode):
        node.__class__ = _EncodedFirstOf
    return template_compiled


def url_render(*, template: str, context: Mapping) -> str:
    """Render a URL over a plain `context` (see ``template_values``); raise RenderError."""
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise RenderError(f"The URL is {len(template):,} characters long; at most {MAX_TEMPLATE_LENGTH:,}.")
    try:
        template_compiled = _url_compiled(template)
    except TemplateSyntaxError as exc:
        raise RenderError(syntax_message(exc)) from exc
    url = render_plain(template_compiled, context, what="URL")
    if len(url) > MAX_URL_LENGTH:
        raise RenderError(f"The URL renders {len(url):,} characters; at most {MAX_URL_LENGTH:,} are allowed.")
    return url
