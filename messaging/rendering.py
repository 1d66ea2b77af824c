"""Rendering an SMS message type for one contact (the template language is Django's)."""

from django.template import Context, Engine, TemplateSyntaxError

# A sandbox-ish engine: no app templates, no custom loaders; autoescape off (this is SMS, not HTML).
_engine = Engine(autoescape=False, string_if_invalid="")


class RenderError(ValueError):
    """The template does not render; the message says why."""


def sms_body_render(*, template: str, contact, enrollment=None) -> str:
    """Render an SMS body template over ``contact`` and ``enrollment``; raise RenderError."""
    try:
        compiled = _engine.from_string(template)
        return compiled.render(Context({"contact": contact, "enrollment": enrollment})).strip()
    except TemplateSyntaxError as exc:
        raise RenderError(f"The message template does not render: {exc}") from exc
    except Exception as exc:
        raise RenderError(f"The message template does not render: {exc}") from exc
