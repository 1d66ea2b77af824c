"""Rendering an SMS message type for one contact (the template language is Django's)."""

import functools

from django.template import Context, Engine, TemplateSyntaxError

# A sandbox-ish engine: no app templates, no custom loaders; autoescape off (this is SMS, not HTML).
_engine = Engine(autoescape=False, string_if_invalid="")


class RenderError(ValueError):
    """The template does not render; the message says why."""


@functools.lru_cache(maxsize=512)
def _compiled(template: str):
    """Compiling is most of a render's cost; a body text compiles to the same template
    every time (compiled templates keep no per-render state), so the last 512 are kept.
    A syntax error is not cached: it raises again each time."""
    return _engine.from_string(template)


def sms_body_render(*, template: str, contact, enrollment=None) -> str:
    """Render an SMS body template over ``contact`` and ``enrollment``; raise RenderError."""
    try:
        compiled = _compiled(template)
        return compiled.render(Context({"contact": contact, "enrollment": enrollment})).strip()
    except TemplateSyntaxError as exc:
        raise RenderError(f"The message template does not render: {exc}") from exc
    except Exception as exc:
        raise RenderError(f"The message template does not render: {exc}") from exc
