"""`send`: a text (and optional media, as MMS), then on at once."""

from django import forms

from automation.flow.forms import ExitField, StepForm, template_area
from automation.flow.kinds.base import Go, Step, StepKind
from automation.flow.read import Reader, shown

MAX_MEDIA = 10


class SendForm(StepForm):
    text = template_area("Text", required=True, rows=4)
    media = forms.CharField(
        required=False,
        label="Pictures or files (MMS)",
        help_text="Optional: one http(s) URL a line.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    next = ExitField()

    @classmethod
    def initial_of(cls, data):
        return {
            "text": data.get("text", ""),
            "media": "\n".join(data.get("media", ())),
            "next": data.get("next") or "",
        }, {}

    def data_of(self, cleaned, rows):
        data = {"text": cleaned["text"], "next": cleaned["next"]}
        media = [line.strip() for line in cleaned["media"].splitlines() if line.strip()]
        if media:
            data["media"] = media
        return data


class Send(StepKind):
    type = "send"
    keys = ("text", "media", "next")
    description = "Send a text, then go on"
    form_class = SendForm

    def read(self, r: Reader) -> dict:
        media = []
        for i, url in enumerate(r.items("media", most=MAX_MEDIA, what="media URLs", required=False)):
            if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 500:
                r.bad(f"media[{i}]", f"{shown(url)} is not an http(s) URL")
            else:
                media.append(url)
        data = {"text": r.text("text"), "next": r.exit("next")}
        if media:
            data["media"] = media
        return data

    def example(self) -> dict:
        return {"text": "Hi {{ contact.first_name }}!", "next": None}

    def texts(self, data) -> list[str]:
        return [data["text"]]

    def prompt(self, data) -> str:
        return data["text"]

    def label(self, step: Step) -> str:
        return f"Send: {step.data['text'][:60]}"

    def enter(self, step: Step, rt) -> Go:
        rt.text_send(
            step=step,
            text=step.data["text"],
            media=tuple(step.data.get("media", ())),
            purpose="prompt",
            whatsapp_template=step.data.get("whatsapp_template"),
        )
        return Go(step.data["next"])
