"""`split_field`: the first case that holds for a contact field wins, else `default`."""

from django import forms

from automation.flow.forms import ContactFieldField, ExitField, RowForm, StepForm, plain_text, plain_value
from automation.flow.kinds.base import Exit, Go, Step, StepKind
from automation.flow.read import Reader

OPS = ("eq", "ne", "lt", "le", "gt", "ge", "contains", "in", "set", "unset")
MAX_CASES = 50


def _plain(value) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _comparable(a, b):
    """Numbers compare as numbers (a saved "5" with 4), anything else as case-folded text."""
    for cast in (float,):
        try:
            return cast(a), cast(b)
        except (TypeError, ValueError):
            pass
    return str(a).casefold(), str(b).casefold()


def case_holds(op: str, actual, expected) -> bool:
    present = actual not in (None, "")
    if op == "set":
        return present
    if op == "unset":
        return not present
    if not present:
        return op == "ne"
    if op == "in":
        return any(case_holds("eq", actual, e) for e in expected)
    if op == "contains":
        if isinstance(actual, list):
            return any(case_holds("eq", a, expected) for a in actual)
        return str(expected).casefold() in str(actual).casefold()
    a, b = _comparable(actual, expected)
    try:
        return {"eq": a == b, "ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op]
    except TypeError:
        return False


OP_LABELS = (
    ("", "—"),
    ("eq", "is"),
    ("ne", "is not"),
    ("lt", "is less than"),
    ("le", "is at most"),
    ("gt", "is more than"),
    ("ge", "is at least"),
    ("contains", "contains"),
    ("in", "is one of (comma-separated)"),
    ("set", "is filled in"),
    ("unset", "is empty"),
)


_OP_WORDS = {"eq": "is", "ne": "is not", "lt": "<", "le": "≤", "gt": ">", "ge": "≥", "contains": "contains",
             "in": "is one of", "set": "is filled in", "unset": "is empty"}  # fmt: skip


def _case_words(case) -> str:
    """A case as the diagram names it: `is vip`, `≥ 4`, `is one of a, b`, `is empty`."""
    value = case.get("value")
    shown_value = ", ".join(map(plain_text, value)) if isinstance(value, list) else plain_text(value)
    return f"{_OP_WORDS.get(case.get('op'), case.get('op'))} {shown_value}".strip()


class CaseForm(RowForm):
    op = forms.ChoiceField(choices=OP_LABELS, label="When the field")
    value = forms.CharField(required=False, max_length=500, label="Value")
    next = ExitField()


class SplitFieldForm(StepForm):
    field = ContactFieldField(required=True, label="Contact field")
    lists = {"cases": (CaseForm, True)}
    main_exit = "default"
    sections = (("", ["field"]), ("", "cases"), ("", ["default"]))
    list_labels = {"cases": "Cases (tried from the top; the first that holds wins)"}
    default = ExitField(label="Otherwise, go to")

    @classmethod
    def initial_of(cls, data):
        cases = []
        for case in data.get("cases", ()):
            value = case.get("value")
            shown = ", ".join(plain_text(v) for v in value) if isinstance(value, list) else plain_text(value)
            cases.append({"op": case["op"], "value": shown, "next": case.get("next") or ""})
        return {"field": data.get("field", ""), "default": data.get("default") or ""}, {"cases": cases}

    def data_of(self, cleaned, rows):
        cases = []
        for row in rows["cases"]:
            case = {"op": row["op"]}
            if row["op"] == "in":
                case["value"] = [plain_value(v) for v in row["value"].split(",") if v.strip()]
            elif row["op"] not in ("set", "unset"):
                case["value"] = plain_value(row["value"])
            case["next"] = row["next"]
            cases.append(case)
        return {"field": cleaned["field"], "cases": cases, "default": cleaned["default"]}


class SplitField(StepKind):
    type = "split_field"
    keys = ("field", "cases", "default")
    description = "Split on a contact field"
    form_class = SplitFieldForm

    def read(self, r: Reader) -> dict:
        cases = []
        for i, item in enumerate(r.items("cases", most=MAX_CASES, what="cases")):
            c = r.child(item, f"cases[{i}]", allowed=("op", "value", "next"))
            op = c.choice("op", OPS)
            case = {"op": op}
            if op in ("set", "unset"):
                if "value" in c.raw:
                    c.bad("value", f"{op} takes no value")
            else:
                value = c.get("value")
                if op == "in" and (not isinstance(value, list) or not all(map(_plain, value))):
                    c.bad("value", "in takes a list of plain values (text, numbers, true/false)")
                elif op != "in" and not _plain(value):
                    c.bad("value", "must be a plain value (text, number, true/false)")
                case["value"] = value
            case["next"] = c.exit("next")
            cases.append(case)
        return {"field": r.field_path("field"), "cases": cases, "default": r.exit("default")}

    def example(self) -> dict:
        return {
            "field": "attributes.tier",
            "cases": [{"op": "eq", "value": "vip", "next": None}],
            "default": None,
        }

    def exits(self, data):
        out = [Exit(f"cases[{i}].next", _case_words(c), c["next"]) for i, c in enumerate(data["cases"])]
        return [*out, Exit("default", "otherwise", data["default"])]

    def label(self, step: Step) -> str:
        return f"Split on {step.data['field']}"

    def enter(self, step: Step, rt):
        actual = rt.field_get(step.data["field"])
        for case in step.data["cases"]:
            if case_holds(case["op"], actual, case.get("value")):
                return Go(case["next"])
        return Go(step.data["default"])
