"""`enter_plan`: this enrollment completes and the contact enters another plan's start."""

from django import forms

from automation.flow.forms import StepForm
from automation.flow.kinds.base import Go, Step, StepKind
from automation.flow.read import SLUG, Reader, shown


class EnterPlanForm(StepForm):
    main_exit = None
    plan = forms.SlugField(
        max_length=100,
        label="Plan to enter",
        help_text="The other plan's slug. This journey completes here.",
        widget=forms.TextInput(attrs={"list": "plan-slugs", "autocomplete": "off"}),
    )

    @classmethod
    def initial_of(cls, data):
        return {"plan": data.get("plan", "")}, {}

    def data_of(self, cleaned, rows):
        return {"plan": cleaned["plan"]}


class EnterPlan(StepKind):
    type = "enter_plan"
    keys = ("plan",)
    description = "Enter another plan"
    form_class = EnterPlanForm

    def read(self, r: Reader) -> dict:
        slug = r.get("plan")
        if not isinstance(slug, str) or not SLUG.fullmatch(slug):
            r.bad("plan", f"{shown(slug)} is not a plan slug")
        return {"plan": slug}

    def example(self) -> dict:
        return {"plan": "another-plan"}

    def exits(self, data):
        return []

    def label(self, step: Step) -> str:
        return f"Enter plan {step.data['plan']}"

    def enter(self, step: Step, rt):
        rt.plan_enter(step.data["plan"])
        return Go(None)
