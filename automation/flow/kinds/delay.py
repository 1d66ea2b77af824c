"""`delay`: wait `for` a duration, or `until` the next HH:MM in the contact's time zone."""

from datetime import datetime, timedelta

from django import forms

from automation.flow.forms import DurationField, ExitField, StepForm
from automation.flow.kinds.base import WAIT, Exit, Go, Step, StepKind
from automation.flow.read import HH_MM, Reader, duration_parse, duration_say, duration_warning, shown


def next_local_time(local_now: datetime, hh_mm: str) -> datetime:
    """The next moment after `local_now` (aware, in the contact's zone) that is `hh_mm`."""
    hour, minute = (int(p) for p in hh_mm.split(":"))
    candidate = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= local_now:
        # The next day at that wall-clock time (DST-safe: re-attach the zone).
        day = (candidate.replace(tzinfo=None) + timedelta(days=1)).date()
        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=local_now.tzinfo)
    return candidate


class DelayForm(StepForm):
    wait_for = DurationField(label="Wait for")
    until = forms.TimeField(
        required=False,
        label="or until (the contact's local time)",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    next = ExitField()

    @classmethod
    def initial_of(cls, data):
        return {"wait_for": data.get("for"), "until": data.get("until"), "next": data.get("next") or ""}, {}

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("wait_for")) == bool(cleaned.get("until")):
            raise forms.ValidationError(
                "Give either how long to wait or until what time, not both or neither."
            )
        return cleaned

    def data_of(self, cleaned, rows):
        if cleaned.get("wait_for"):
            return {"for": cleaned["wait_for"], "next": cleaned["next"]}
        return {"until": cleaned["until"].strftime("%H:%M"), "next": cleaned["next"]}


class Delay(StepKind):
    type = "delay"
    keys = ("for", "until", "next")
    waits = True
    description = "Wait for a while"
    form_class = DelayForm

    def read(self, r: Reader) -> dict:
        data: dict = {}
        if ("for" in r.raw) == ("until" in r.raw):
            r.bad("for", "give either for (a duration) or until (HH:MM), not both or neither")
        elif "for" in r.raw:
            data["for"] = r.duration("for")
        else:
            until = r.get("until")
            if not isinstance(until, str) or not HH_MM.fullmatch(until):
                r.bad("until", f"{shown(until)} is not a time of day HH:MM (24 h)")
            data["until"] = until
        data["next"] = r.exit("next")
        return data

    def example(self) -> dict:
        return {"for": "PT30M", "next": None}

    def warnings(self, data, *, plan):
        message = duration_warning(data["for"]) if "for" in data else None
        return [("for", message)] if message else []

    def exits(self, data):
        when = f"after {duration_say(data['for'])}" if data.get("for") else f"at {data.get('until')}"
        return [Exit("next", when, data.get("next"), timed=True)]

    def label(self, step: Step) -> str:
        if "for" in step.data:
            return f"Wait {duration_say(step.data['for'])}"
        return f"Wait until {step.data['until']}"

    def enter(self, step: Step, rt):
        if "for" in step.data:
            rt.timer_set(rt.now + duration_parse(step.data["for"], clamp=True))
        else:
            rt.timer_set(next_local_time(rt.local_now(), step.data["until"]))
        return WAIT

    def on_timer(self, step: Step, rt):
        return Go(step.data["next"])
