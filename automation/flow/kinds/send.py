"""`send`: a text (and optional media, as MMS; optional WhatsApp template), then on at once."""

from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError

from automation.flow.forms import ExitField, StepForm, template_area
from automation.flow.kinds.base import Go, Step, StepKind
from automation.flow.read import Reader, shown
from automation.flow.whatsapp import (
    VariablesField,
    content_sid_field,
    read_whatsapp_template,
    whatsapp_template_data,
    whatsapp_template_initial,
    whatsapp_template_of,
)

MAX_MEDIA = 10  # Twilio sends at most 10 media with a message
MAX_MEDIA_URL = 500


def media_url_problem(url) -> str | None:
    """Why `url` cannot go with an MMS (it must be a whole http(s) URL Twilio can fetch), or None."""
    if not isinstance(url, str) or len(url) > MAX_MEDIA_URL:
        return f"{shown(url)} is not an http(s) URL of at most {MAX_MEDIA_URL} characters"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        return f"{shown(url)} is not an http(s) URL (e.g. https://example.com/picture.jpg)"
    return None


class MediaField(forms.CharField):
    """Media URLs typed one a line → a list; refused when more than MAX_MEDIA or not http(s)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 2}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list | tuple) else value

    def clean(self, value):
        urls = [line.strip() for line in (super().clean(value) or "").splitlines() if line.strip()]
        errors = [f"Line {i}: {p}." for i, url in enumerate(urls, 1) if (p := media_url_problem(url))]
        if len(urls) > MAX_MEDIA:
            errors.insert(0, f"{len(urls)} URLs: an MMS carries at most {MAX_MEDIA}.")
        if errors:
            raise ValidationError(errors)
        return urls


class SendForm(StepForm):
    text = template_area("Text", required=True, rows=4)
    media = MediaField(
        label="Pictures or files (MMS)",
        help_text=f"Optional: up to {MAX_MEDIA} http(s) URLs, one a line. With them the text goes as "
        "an MMS, priced per message rather than per segment.",
    )
    whatsapp_template_content_sid = content_sid_field()
    whatsapp_template_variables = VariablesField()
    next = ExitField()

    @classmethod
    def initial_of(cls, data):
        return {
            "text": data.get("text", ""),
            "media": list(data.get("media", ())),
            "next": data.get("next") or "",
            **whatsapp_template_initial(data),
        }, {}

    def data_of(self, cleaned, rows):
        data = {"text": cleaned["text"], "next": cleaned["next"]}
        if cleaned["media"]:
            data["media"] = cleaned["media"]
        return data | whatsapp_template_data(cleaned)


class Send(StepKind):
    type = "send"
    keys = ("text", "media", "whatsapp_template", "next")
    description = "Send a text, then go on"
    form_class = SendForm

    def read(self, r: Reader) -> dict:
        media = []
        for i, url in enumerate(r.items("media", most=MAX_MEDIA, what="media URLs", required=False)):
            problem = media_url_problem(url)
            if problem:
                r.bad(f"media[{i}]", problem)
            else:
                media.append(url)
        data = {"text": r.text("text"), "next": r.exit("next")}
        if media:
            data["media"] = media
        template = read_whatsapp_template(r)
        if template is not None:
            data["whatsapp_template"] = template
        return data

    def example(self) -> dict:
        return {
            "text": "Hi {{ contact.first_name }}!",
            "media": ["https://example.com/hello.jpg"],
            "whatsapp_template": {
                "content_sid": "HX" + "0123456789abcdef" * 2,
                "variables": {"1": "{{ contact.first_name }}"},
            },
            "next": None,
        }

    def texts(self, data) -> list[str]:
        return [data["text"]]

    def prompt(self, data) -> str:
        return data["text"]

    def label(self, step: Step) -> str:
        return f"Send: {step.data['text']}"

    def enter(self, step: Step, rt) -> Go:
        rt.text_send(
            step=step,
            text=step.data["text"],
            media=tuple(step.data.get("media", ())),
            purpose="prompt",
            whatsapp_template=whatsapp_template_of(step.data),
        )
        return Go(step.data["next"])
