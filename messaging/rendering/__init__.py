"""Rendering a marketer's text for one contact: Django's template language in a sandbox.

A marketer's text is data, not code (issues 9 and 18):

- **A plain, read-only context.** Templates see only the values the caller puts in the
  context (``contacts.selectors.contact_template_values`` and the enrollment's values built
  by automation): strings, numbers, dates and read-only mappings/tuples — never a model
  instance, so no template can walk a relation to another row.
- **Lookups, never calls.** ``a.b`` is a key of a mapping, ``a.0`` an index of a tuple or a
  text, and nothing else: no attribute or method is looked up, nothing is called
  (``{{ contact.phone.encode }}``, ``{{ contact.attributes.items }}`` render as empty, like
  an unknown name). Filters (``|upper``, ``|date``) are how a value is changed.
- **Only what a text needs.** The engine knows a few tags (``if``, ``firstof``, ``with``,
  ``now``, ``comment``) and the filters whose cost follows their input; loops, ``lorem``,
  ``include``, ``load`` and the padding filters are not there at all (``engine``).
- **Bounded in size, memory and time** (``limits``). A template is at most
  ``MAX_TEMPLATE_LENGTH`` characters; ``{% with %}`` nests at most ``MAX_WITH_NESTING``
  deep, ``{% if %}`` and ``{% with %}`` together ``MAX_NESTING``; a condition has at most
  ``MAX_CONDITION_WORDS`` words, a date format ``MAX_DATE_FORMAT`` characters. A filter
  makes at most ``MAX_VALUE_LENGTH`` characters — ``add`` and ``join``, whose result can be
  any multiple of their input, are refused from the sizes they are given before they run;
  the others make at most a few times their input and are checked after. A render writes
  at most ``MAX_VALUE_LENGTH`` characters and does at most ``MAX_RENDER_WORK``. So no text
  renders in more than a few milliseconds or tens of kilobytes (``bench/templates.py``).
  A template of a shape past a cap is refused when it is saved or imported
  (``sms_template_problem``) and when it renders; a render that passes a cap raises
  ``RenderError`` for that one message (nothing is cut short), as does a text over
  ``MAX_RENDERED_LENGTH``, Twilio's limit for one message.
- **Sent as written.** No HTML escaping: SMS is plain text.
- **A URL keeps its shape** (``urls``, plan ``http`` steps): what each value puts into a URL
  is percent-encoded, so no value can add a path segment, a query parameter or a fragment.
"""

from collections.abc import Mapping

from django.template import TemplateSyntaxError

from messaging.rendering.engine import (
    ALLOWED_FILTERS,
    ALLOWED_TAGS,
    compiled,
    render_plain,
    syntax_message,
    template_values,
)
from messaging.rendering.limits import (
    MAX_CONDITION_WORDS,
    MAX_DATE_FORMAT,
    MAX_NESTING,
    MAX_RENDER_WORK,
    MAX_RENDERED_LENGTH,
    MAX_TEMPLATE_LENGTH,
    MAX_VALUE_LENGTH,
    MAX_WITH_NESTING,
    RenderError,
)
from messaging.rendering.urls import MAX_URL_LENGTH, url_render

__all__ = [
    "ALLOWED_FILTERS",
    "ALLOWED_TAGS",
    "MAX_CONDITION_WORDS",
    "MAX_DATE_FORMAT",
    "MAX_NESTING",
    "MAX_RENDERED_LENGTH",
    "MAX_RENDER_WORK",
    "MAX_TEMPLATE_LENGTH",
    "MAX_URL_LENGTH",
    "MAX_VALUE_LENGTH",
    "MAX_WITH_NESTING",
    "RenderError",
    "sms_body_render",
    "sms_template_problem",
    "template_values",
    "url_render",
]


def sms_template_problem(template: str) -> str | None:
    """Why `template` may not be used in a text message, or None. Checked on save and
    import, before any contact sees it."""
    if len(template) > MAX_TEMPLATE_LENGTH:
        return f"The text is {len(template):,} characters long; at most {MAX_TEMPLATE_LENGTH:,} are allowed."
    try:
        compiled(template)
    except TemplateSyntaxError as exc:
        return syntax_message(exc)
    return None


def sms_body_render(*, template: str, context: Mapping) -> str:
    """Render a text over a plain `context` (see ``template_values``); raise RenderError."""
    problem = sms_template_problem(template) if len(template) > MAX_TEMPLATE_LENGTH else None
    if problem:
        raise RenderError(problem)
    try:
        template_compiled = compiled(template)
    except TemplateSyntaxError as exc:
        raise RenderError(syntax_message(exc)) from exc
    body = render_plain(template_compiled, context, what="text")
    if len(body) > MAX_RENDERED_LENGTH:
        raise RenderError(
            f"The text renders {len(body):,} characters; "
            f"a text message holds at most {MAX_RENDERED_LENGTH:,}."
        )
    return body
