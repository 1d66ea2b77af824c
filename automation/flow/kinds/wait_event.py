"""`wait_event`: wait for an event of one type for this contact (docs/reference.md §7), with an
optional timeout."""

from django import forms

from automation.flow.forms import DurationField, ExitField, StepForm
from automation.flow.kinds.ask import read_timeout, timeout_data, timeout_initial, timeout_warnings
from automation.flow.kinds.base import WAIT, Exit, Go, Step, StepKind
from automation.flow.read import Reader, duration_parse, duration_say
from tracking.models import LINK_CLICK

LINKS_UNTRACKED = (
    "this plan does not track its links, so no click can come (tick “Track links” in its settings)"
)


def event_words(event: str) -> str:
    """An event type as the diagram names it: `purchase`; a tracked link's click in words."""
    return "a link opened" if event == LINK_CLICK else event


class WaitEventForm(StepForm):
    event = forms.CharField(
        max_length=50,
        label="Event type",
        help_text="E.g. purchase, or link_click (a link this journey sent was opened).",
    )
    next = ExitField(label="When it comes, go to")
    timeout_after = DurationField(label="If it does not come within")
    timeout_next = ExitField()

    @classmethod
    def initial_of(cls, data):
        return {"event": data.get("event", ""), "next": data.get("next") or "", **timeout_initial(data)}, {}

    def data_of(self, cleaned, rows):
        return {"event": cleaned["event"], "next": cleaned["next"]} | timeout_data(cleaned)


class WaitEvent(StepKind):
    type = "wait_event"
    keys = ("event", "next", "timeout")
    waits = True
    description = "Wait for an event"
    form_class = WaitEventForm

    def read(self, r: Reader) -> dict:
        data = {"event": r.event_type("event"), "next": r.exit("next")}
        timeout = read_timeout(r)
        if timeout is not None:
            data["timeout"] = timeout
        return data

    def example(self) -> dict:
        return {"event": "purchase", "next": None, "timeout": {"after": "PT1H", "next": None}}

    def warnings(self, data, *, plan):
        out = timeout_warnings(data)
        if data["event"] == LINK_CLICK and not plan.get("track_links"):
            out.append(("event", f"waits for a click on a link, but {LINKS_UNTRACKED}"))
        return out

    def awaited_event(self, data) -> str:
        return data["event"]

    def exits(self, data):
        out = [Exit("next", event_words(data["event"]), data["next"], event=data["event"])]
        if data.get("timeout"):
            label = f"none within {duration_say(data['timeout']['after'])}"
            out.append(Exit("timeout.next", label, data["timeout"]["next"], timed=True))
        return out

    def label(self, step: Step) -> str:
        return f"Wait for {event_words(step.data['event'])}"

    def enter(self, step: Step, rt):
        timeout = step.data.get("timeout")
        rt.timer_set(rt.now + duration_parse(timeout["after"], clamp=True) if timeout else None)
        return WAIT

    def on_event(self, step: Step, rt):
        return Go(step.data["next"]) if rt.event.type == step.data["event"] else None

    def on_timer(self, step: Step, rt):
        timeout = step.data.get("timeout")
        return Go(timeout["next"]) if timeout else None
