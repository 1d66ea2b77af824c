"""`wait_event`: wait for an event of one type for this contact (CONTRACT §7), with an
optional timeout."""

from automation.flow.kinds.ask import read_timeout
from automation.flow.kinds.base import WAIT, Exit, Go, Step, StepKind
from automation.flow.read import Reader, duration_parse


class WaitEvent(StepKind):
    type = "wait_event"
    keys = ("event", "next", "timeout")
    waits = True
    description = "Wait for an event"

    def read(self, r: Reader) -> dict:
        data = {"event": r.event_type("event"), "next": r.exit("next")}
        timeout = read_timeout(r)
        if timeout is not None:
            data["timeout"] = timeout
        return data

    def exits(self, data):
        out = [Exit("next", f"event {data['event']}", data["next"])]
        if data.get("timeout"):
            out.append(Exit("timeout.next", f"after {data['timeout']['after']}", data["timeout"]["next"]))
        return out

    def label(self, step: Step) -> str:
        return f"Wait for {step.data['event']}"

    def enter(self, step: Step, rt):
        timeout = step.data.get("timeout")
        rt.timer_set(rt.now + duration_parse(timeout["after"]) if timeout else None)
        return WAIT

    def on_event(self, step: Step, rt):
        return Go(step.data["next"]) if rt.event.type == step.data["event"] else None

    def on_timer(self, step: Step, rt):
        timeout = step.data.get("timeout")
        return Go(timeout["next"]) if timeout else None
