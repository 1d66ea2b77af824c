"""`split_random`: each enrollment takes one branch at random, in proportion to the
weights, and keeps it (an A/B test)."""

from django import forms

from automation.flow.forms import ExitField, RowForm, StepForm
from automation.flow.kinds.base import Exit, Go, Step, StepKind
from automation.flow.read import Reader, shown

MAX_BRANCHES = 20
MAX_WEIGHT = 1_000_000


class BranchForm(RowForm):
    name = forms.CharField(max_length=50, label="Branch")
    weight = forms.FloatField(
        min_value=0.001, initial=50, label="Weight", help_text="Share of contacts, relative to the others."
    )
    next = ExitField()


class SplitRandomForm(StepForm):
    lists = {"branches": (BranchForm, False)}
    main_exit = "branches"
    list_labels = {"branches": "Branches (each contact takes one at random, in proportion to the weights)"}

    @classmethod
    def initial_of(cls, data):
        return {}, {"branches": [dict(b, next=b.get("next") or "") for b in data.get("branches", ())]}

    def data_of(self, cleaned, rows):
        return {
            "branches": [
                {
                    "name": row["name"],
                    "weight": int(row["weight"]) if row["weight"].is_integer() else row["weight"],
                    "next": row["next"],
                }
                for row in rows["branches"]
            ]
        }


class SplitRandom(StepKind):
    type = "split_random"
    keys = ("branches",)
    description = "Split at random (A/B)"
    form_class = SplitRandomForm

    def read(self, r: Reader) -> dict:
        branches, names = [], set()
        raw = r.items("branches", most=MAX_BRANCHES, what="branches")
        if len(raw) < 2:
            r.bad("branches", "a split needs at least two branches")
        for i, item in enumerate(raw):
            b = r.child(item, f"branches[{i}]", allowed=("name", "weight", "next"))
            name = b.plain("name", max_length=50)
            if name in names:
                b.bad("name", f"{shown(name)} names two branches")
            names.add(name)
            weight = b.number("weight") if "weight" in b.raw else b.get("weight")
            if weight is None and "weight" in b.raw and b.raw["weight"] is None:
                b.bad("weight", "is required: a positive number")
            elif weight is not None and not 0 < weight <= MAX_WEIGHT:
                b.bad("weight", f"{shown(weight)} is not a positive weight (at most {MAX_WEIGHT:,})")
            branches.append({"name": name, "weight": weight, "next": b.exit("next")})
        return {"branches": branches}

    def example(self) -> dict:
        return {
            "branches": [{"name": "A", "weight": 50, "next": None}, {"name": "B", "weight": 50, "next": None}]
        }

    def branches(self, data) -> list[tuple[str, float]]:
        return [(b["name"], b["weight"]) for b in data["branches"]]

    def exits(self, data):
        return [
            Exit(f"branches[{i}].next", f"{b['name']} ({b['weight']})", b["next"])
            for i, b in enumerate(data["branches"])
        ]

    def label(self, step: Step) -> str:
        return "Split at random: " + " / ".join(b["name"] for b in step.data["branches"])

    def enter(self, step: Step, rt):
        branches = step.data["branches"]
        kept = rt.branch_taken(step)
        for branch in branches:
            if branch["name"] == kept:  # an enrollment keeps its branch (a loop back, the simulator)
                rt.branch_take(step=step, name=kept)
                return Go(branch["next"])
        draw = rt.random() * sum(b["weight"] for b in branches)
        chosen = branches[-1]
        for branch in branches:
            draw -= branch["weight"]
            if draw < 0:
                chosen = branch
                break
        rt.branch_take(step=step, name=chosen["name"])
        return Go(chosen["next"])
