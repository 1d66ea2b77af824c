"""`enter_plan`: this enrollment completes and the contact enters another plan's start."""

from automation.flow.kinds.base import Go, Step, StepKind
from automation.flow.read import SLUG, Reader


class EnterPlan(StepKind):
    type = "enter_plan"
    keys = ("plan",)
    description = "Enter another plan"

    def read(self, r: Reader) -> dict:
        slug = r.get("plan")
        if not isinstance(slug, str) or not SLUG.fullmatch(slug):
            r.bad("plan", f"{slug!r} is not a plan slug")
        return {"plan": slug}

    def exits(self, data):
        return []

    def label(self, step: Step) -> str:
        return f"Enter plan {step.data['plan']}"

    def enter(self, step: Step, rt):
        rt.plan_enter(step.data["plan"])
        return Go(None)
