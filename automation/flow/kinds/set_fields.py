"""`set`: write plain values to contact fields, then on at once."""

from django import forms

from automation.flow.forms import ContactFieldField, ExitField, RowForm, StepForm, plain_text, plain_value
from automation.flow.kinds.base import Go, Step, StepKind
from automation.flow.read import Reader, field_path_problem

MAX_FIELDS = 50


class FieldValueForm(RowForm):
    field = ContactFieldField(label="Contact field")
    value = forms.CharField(
        required=False, max_length=500, label="Value", help_text="Numbers and true/false are kept as such."
    )


class SetFieldsForm(StepForm):
    lists = {"fields": (FieldValueForm, False)}
    list_labels = {"fields": "Fields to set"}
    next = ExitField()

    @classmethod
    def initial_of(cls, data):
        rows = [{"field": k, "value": plain_text(v)} for k, v in (data.get("fields") or {}).items()]
        return {"next": data.get("next") or ""}, {"fields": rows}

    def data_of(self, cleaned, rows):
        fields = {row["field"]: plain_value(row["value"]) for row in rows["fields"] if row.get("field")}
        return {"fields": fields, "next": cleaned["next"]}


class SetFields(StepKind):
    type = "set"
    keys = ("fields", "next")
    description = "Set contact fields"
    form_class = SetFieldsForm

    def read(self, r: Reader) -> dict:
        raw = r.get("fields")
        fields = {}
        if not isinstance(raw, dict) or not raw:
            r.bad("fields", "must be an object of at least one field: value")
            raw = {}
        if len(raw) > MAX_FIELDS:
            r.bad("fields", f"has {len(raw):,} fields: at most {MAX_FIELDS} are allowed")
        for path, value in list(raw.items())[:MAX_FIELDS]:
            problem = field_path_problem(path)
            if problem:
                r.bad(f"fields.{path}", problem)
            elif not (value is None or isinstance(value, str | int | float | bool)):
                r.bad(f"fields.{path}", "must be a plain value (text, number, true/false or null)")
            elif isinstance(value, str) and len(value) > 500:
                r.bad(f"fields.{path}", "at most 500 characters")
            else:
                fields[path] = value
        return {"fields": fields, "next": r.exit("next")}

    def example(self) -> dict:
        return {"fields": {"attributes.segment": "spring"}, "next": None}

    def label(self, step: Step) -> str:
        return "Set " + ", ".join(step.data["fields"])

    def enter(self, step: Step, rt):
        for path, value in step.data["fields"].items():
            rt.field_set(path, value)
        return Go(step.data["next"])
