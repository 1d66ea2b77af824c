"""A step kind's admin form (docs/architecture.md §3: a kind owns its schema, its form, its label and
its execution). Each kind module declares a `StepForm` subclass that turns the step's keys
into fields a marketer fills in (words as a list, durations with their unit, exits as a
choice of steps) and back; the document it builds is judged by `flow_read` like any
import, and its problems are put on the fields they name. No database here: the view
hands in the choices (the plan's steps and goals)."""

from __future__ import annotations

import re
from html import escape
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from automation.flow.problems import Problem
from automation.flow.read import MAX_DURATION, STEP_ID, duration_parse, duration_split, field_path_problem

END = ""  # the exit choice that ends the enrollment
NEW = "new:"  # an exit choice `new:<kind>`: a new step of that kind, made when the step is saved
UNITS = (("minutes", "minutes"), ("hours", "hours"), ("days", "days"))
_ROW = re.compile(r"([a-z_]+)\[(\d+)\](?:\.(.+))?")


# --- values as a marketer types them ------------------------------------------------------


def duration_join(amount: int, unit: str) -> str:
    """(2, "hours") → `PT2H`; days as `P3D`."""
    return f"P{amount}D" if unit == "days" else f"PT{amount}{'H' if unit == 'hours' else 'M'}"


def plain_value(text: str) -> Any:
    """A value typed in a box as the format keeps it: a whole or decimal number when it
    reads back exactly so (``5``, ``2.5``; not ``0123``), true/false, else the text."""
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?(0|[1-9]\d{0,14})", text):
        return int(text)
    if re.fullmatch(r"-?(0|[1-9]\d{0,14})\.\d{1,10}", text) and not text.endswith("0"):
        return float(text)
    return text


def plain_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class DurationWidget(forms.MultiWidget):
    def __init__(self, attrs=None):
        super().__init__(
            [
                forms.NumberInput(attrs={"min": 1, "max": 10000, "class": "duration-amount"}),
                forms.Select(choices=UNITS, attrs={"class": "duration-unit"}),
            ],
            attrs,
        )

    def decompress(self, value):
        return list(duration_split(value))


class DurationField(forms.MultiValueField):
    """An amount and its unit (minutes, hours, days): nobody has to guess what `120` means."""

    widget = DurationWidget

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(
            fields=[
                forms.IntegerField(min_value=1, max_value=10000, required=False),
                forms.ChoiceField(choices=UNITS, required=False),
            ],
            require_all_fields=False,
            **kwargs,
        )

    def compress(self, data_list):
        if not data_list or data_list[0] in (None, ""):
            return None
        amount, unit = data_list[0], data_list[1] or "hours"
        iso = duration_join(amount, unit)
        try:
            duration_parse(iso)
        except ValueError as exc:
            raise ValidationError(
                f"{amount:,} {unit} is longer than {MAX_DURATION.days} days, the longest allowed."
            ) from exc
        return iso


class StepSelect(forms.Select):
    """A select whose options (and groups of options) are written here rather than through
    a template each: a step's page has one per rule and exit, each listing every step of
    the plan, and 50 rules of a 100-step plan's ask are 5,000 options (bench/plan_page.py)."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = set(self.format_value(value))

        def options(choices) -> str:
            return "".join(
                f'<option value="{escape(str(key))}"{" selected" if str(key) in chosen else ""}>'
                f"{escape(str(label))}</option>"
                for key, label in choices
            )

        options = "".join(
            f'<optgroup label="{escape(str(key))}">{options(label)}</optgroup>'
            if isinstance(label, list | tuple)
            else options([(key, label)])
            for key, label in self.choices
        )
        attrs = flatatt(self.build_attrs(self.attrs, attrs))
        # Every key and label is escaped above.
        return format_html('<select name="{}"{}>{}</select>', name, attrs, mark_safe(options))


class ExitField(forms.ChoiceField):
    """Which step comes next: the end of the journey, one of the plan's steps, or a new
    step of a kind (`new:<kind>`), made and put on this way when the step is saved."""

    widget = StepSelect
    default_error_messages = {
        "invalid_choice": "“%(value)s” is not one of the choices: pick the end of the journey, "
        "one of the plan's steps, or a new step.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "Then go to")
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        return value or None


class GoalField(forms.ChoiceField):
    widget = StepSelect

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "Goal reached")
        super().__init__(**kwargs)

    def clean(self, value):
        return super().clean(value) or None


class WordsField(forms.CharField):
    """Words typed as "QUOTE, YES" (commas or spaces between them) → ["QUOTE", "YES"]."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "One or more words, separated by commas or spaces, e.g. YES, Y, SURE")
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list | tuple) else value

    def clean(self, value):
        value = super().clean(value)
        return [w for w in re.split(r"[\s,;]+", value or "") if w]


class ContactFieldField(forms.CharField):
    """A contact field a plan may read or write: first_name … or attributes.<name>."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 61)
        kwargs.setdefault(
            "help_text",
            "first_name, last_name, email, timezone, locale, or attributes.<name> (e.g. attributes.score)",
        )
        kwargs.setdefault("widget", forms.TextInput(attrs={"list": "contact-fields", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value:
            problem = field_path_problem(value)
            if problem:
                raise ValidationError(problem)
        return value or None


def template_area(
    label: str, *, required: bool = False, rows: int = 3, help_text: str = ""
) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        strip=False,
        help_text=help_text
        or "Sent as written. {{ contact.first_name }} and {{ contact.attributes.<name> }} fill in "
        "the contact's values.",
        widget=forms.Textarea(attrs={"rows": rows, "class": "step-text"}),
    )


# --- the forms ------------------------------------------------------------------------------


class ChoicesMixin:
    """Fills every ExitField and GoalField of the form with the plan's steps and goals, and
    the exits with `new`: (`new:<kind>`, words) for a new step of each kind."""

    def _choices_apply(self, steps, goals, new=()) -> None:
        for field in self.fields.values():
            if isinstance(field, ExitField):
                choices = [(END, "End the journey")]
                if steps:
                    choices.append(("The plan's steps", list(steps)))
                if new:
                    choices.append(("A new step, made when this one is saved", list(new)))
                field.choices = choices
            elif isinstance(field, GoalField):
                field.choices = [("", "—"), *goals]


class RowForm(ChoicesMixin, forms.Form):
    """One row of a list in a step (an ask's rule, a split's branch or case)."""

    def __init__(self, *args, steps=(), goals=(), new=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._choices_apply(list(steps), list(goals), list(new))


class StepForm(ChoicesMixin, forms.Form):
    """The fields every step has (id, name, goal); a kind adds its own, and `lists`: the
    keys whose value is a list of rows (edited as a formset, `ordered` when order counts)."""

    lists: ClassVar[dict[str, tuple[type[RowForm], bool]]] = {}
    list_labels: ClassVar[dict[str, str]] = {}
    # The exit a new step put between two others goes on by (a field, or a list's first row).
    main_exit: ClassVar[str | None] = "next"
    # Optional layout: (title, [field names]) or (title, list key), in order.
    sections: ClassVar[tuple] = ()

    id = forms.RegexField(
        regex=STEP_ID,
        max_length=50,
        label="Step id",
        help_text="Lower-case letters, digits and -; how exports and other steps name this step.",
        error_messages={"invalid": "Use lower-case letters, digits and - only (e.g. ask-score)."},
    )
    name = forms.CharField(
        max_length=100,
        required=False,
        label="Name",
        help_text="What the diagram, the report and a contact's state call this step.",
    )
    goal = GoalField(label="Goal reached on entering this step")

    def __init__(self, *args, steps=(), goals=(), new=(), rows_initial=None, **kwargs):
        super().__init__(*args, **kwargs)
        steps, goals, new = list(steps), list(goals), list(new)
        self._choices_apply(steps, goals, new)
        data = args[0] if args else kwargs.get("data")
        self.rows = {}
        for key, (row_form, ordered) in self.lists.items():
            initial = (rows_initial or {}).get(key, [])
            formset_class = forms.formset_factory(
                row_form, extra=2 if len(initial) < 4 else 1, can_delete=True, can_order=ordered
            )
            self.rows[key] = formset_class(
                data, prefix=key, initial=initial, form_kwargs={"steps": steps, "goals": goals, "new": new}
            )
        self._row_order: dict[str, list[RowForm]] = {}

    # --- a kind fills these in ---------------------------------------------------------

    @classmethod
    def initial_of(cls, data: dict) -> tuple[dict, dict[str, list[dict]]]:
        """The form's initial values and its lists' rows for a step's keys."""
        return {}, {}

    def data_of(self, cleaned: dict, rows: dict[str, list[dict]]) -> dict:
        """The step's keys from the cleaned fields and rows."""
        raise NotImplementedError

    # --- shared -------------------------------------------------------------------------

    @classmethod
    def for_step(cls, step: dict | None, *, connect: str | None = None, **kwargs) -> StepForm:
        """The unbound form showing `step`, or a new step (going on to `connect` by its
        main exit when it is put before that step)."""
        initial, rows = {}, {}
        if step is not None:
            initial, rows = cls.initial_of(step)
            initial |= {"id": step["id"], "name": step.get("name", ""), "goal": step.get("goal") or ""}
        elif connect and cls.main_exit in cls.lists:
            rows = {cls.main_exit: [{"next": connect}]}
        elif connect and cls.main_exit:
            initial[cls.main_exit] = connect
        return cls(initial=initial | kwargs.pop("initial", {}), rows_initial=rows, **kwargs)

    def is_valid(self) -> bool:
        valid = super().is_valid()
        return all([valid, *(formset.is_valid() for formset in self.rows.values())])

    def _rows_cleaned(self) -> dict[str, list[dict]]:
        out = {}
        for key, formset in self.rows.items():
            if formset.can_order:
                kept = list(formset.ordered_forms)
            else:
                kept = [f for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
            self._row_order[key] = kept
            out[key] = [
                {k: v for k, v in f.cleaned_data.items() if k not in ("DELETE", "ORDER")} for f in kept
            ]
        return out

    def step(self, *, type: str) -> dict:
        """The step as the plan format writes it (after is_valid())."""
        cleaned = self.cleaned_data
        step: dict[str, Any] = {"id": cleaned["id"]}
        if cleaned.get("name"):
            step["name"] = cleaned["name"]
        step["type"] = type
        if cleaned.get("goal"):
            step["goal"] = cleaned["goal"]
        step.update(self.data_of(cleaned, self._rows_cleaned()))
        return step

    def problems_show(self, problems: list[Problem], *, step_ids: set[str], say) -> None:
        """Put each problem of the document on the field it names (this step's), or at the
        top of the form in words naming the step (`say(problem)`)."""
        for problem in problems:
            if problem.step not in step_ids or not self._problem_place(problem):
                self.add_error(None, say(problem))

    def _problem_place(self, problem: Problem) -> bool:
        path = problem.field
        m = _ROW.fullmatch(path)
        if m and m.group(1) in self.rows:
            kept = self._row_order.get(m.group(1), [])
            index = int(m.group(2))
            if index < len(kept):
                row = kept[index]
                sub = (m.group(3) or "").split(".")[0].split("[")[0]
                row.add_error(sub if sub in row.fields else None, problem.message)
                return True
            return False
        # `timeout.after` → timeout_after; `whatsapp_template.variables.1` →
        # whatsapp_template_variables: the longest dotted prefix that names a field.
        parts = path.split("[")[0].split(".")
        for name in ("_".join(parts[:n]) for n in range(len(parts), 0, -1)):
            if name in self.fields and name in self.cleaned_data:
                self.add_error(name, problem.message)
                return True
        return False
