"""`send`: a text (and optional media, as MMS), then on at once."""

from automation.flow.kinds.base import Go, Step, StepKind
from automation.flow.read import Reader

MAX_MEDIA = 10


class Send(StepKind):
    type = "send"
    keys = ("text", "media", "next")
    description = "Send a text, then go on"

    def read(self, r: Reader) -> dict:
        media = []
        for i, url in enumerate(r.items("media", required=False)[: MAX_MEDIA + 1]):
            if i == MAX_MEDIA:
                r.bad("media", f"at most {MAX_MEDIA} media URLs")
            elif not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 500:
                r.bad(f"media[{i}]", f"{url!r} is not an http(s) URL")
            else:
                media.append(url)
        data = {"text": r.text("text"), "next": r.exit("next")}
        if media:
            data["media"] = media
        return data

    def texts(self, data) -> list[str]:
        return [data["text"]]

    def label(self, step: Step) -> str:
        return f"Send: {step.data['text'][:60]}"

    def enter(self, step: Step, rt) -> Go:
        rt.text_send(
            step=step, text=step.data["text"], media=tuple(step.data.get("media", ())), purpose="prompt"
        )
        return Go(step.data["next"])
