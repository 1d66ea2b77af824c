"""The plan page's form: the plan's settings as a marketer fills them in (who enters, how
long a journey lasts, its goals, where it starts). Its steps are edited one at a time
(`automation.cockpit.steps_admin`, each with its kind's form). Whatever is saved is the draft's
document in the docs/reference.md §6 format, checked in full; every problem is shown on the
field it names, in a marketer's words. And the date range of the report and the plans list
(`ReportFilterForm`)."""

import copy

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from automation.cockpit.steps_view import step_dict_choice
from automation.engine.plans import plan_document_check
from automation.flow import FlowInvalid
from automation.flow.forms import DurationField, WordsField
from automation.models import Plan
from messaging.models import Sender
from messaging.senders import sender_address_kind
from messaging.services.outbound import links_untracked_reason

TRIGGERS = (
    ("keyword", "They text one of these keywords"),
    ("any", "Any message from someone in no journey of this plan"),
    ("event", "An event arrives for them (e.g. a purchase), if they consented to marketing texts"),
    ("none", "Only when enrolled in bulk or by hand (with their consent)"),
)
REENTRY = (("after_end", "Again, once their journey has ended"), ("never", "Only once, ever"))
MAX_SENDERS = 500  # offered on the plan's page (a brand has a few)


def sender_choices(current: str | None) -> list[tuple[str, str]]:
    """The senders a plan's entry may name (docs/reference.md §8), "" = any; the plan's own
    address is offered even when it is not a kept sender (an imported plan)."""
    choices = [("", "Any sender")]
    senders = list(Sender.objects.order_by("address")[:MAX_SENDERS])
    choices += [(s.address, f"{s.address} · {s.name}" if s.name else s.address) for s in senders]
    kept = {s.address for s in senders}
    default = settings.TWILIO_FROM_NUMBER
    if default and default not in kept and sender_address_kind(default):
        choices.append((default, f"{default} (the default sender)"))
        kept.add(default)
    if current and current not in kept:
        choices.append((current, f"{current} (not a kept sender yet)"))
    return choices


def starter_document(*, slug: str, name: str) -> dict:
    """A new plan's first draft: entered by no keyword yet, one text."""
    return {
        "format": "smsjourney.plan/1",
        "slug": slug,
        "name": name or slug,
        "entry": {"trigger": "none", "sender": None},
        "start": "hello",
        "steps": [
            {
                "id": "hello",
                "name": "Hello",
                "type": "send",
                "text": "Hello {{ contact.first_name }}!",
                "next": None,
            }
        ],
    }


class GoalRowForm(forms.Form):
    slug = forms.SlugField(max_length=100, label="Goal id", help_text="e.g. promoter")
    name = forms.CharField(max_length=100)
    points = forms.IntegerField(min_value=0, initial=0)
    event = forms.RegexField(
        regex=r"^[a-z0-9_.-]{1,50}$",
        required=False,
        label="Also reached by event",
        help_text="Optional: an event type, e.g. purchase (its value counts as the plan's revenue)",
    )


GoalFormSet = forms.formset_factory(GoalRowForm, extra=1, can_delete=True)

# Where a problem of the document's top level is shown on this form.
_FIELD_OF = {
    "name": "name",
    "description": "description",
    "entry.trigger": "trigger",
    "entry.keywords": "keywords",
    "entry.event": "event",
    "entry.sender": "sender",
    "reentry": "reentry",
    "lifetime": "lifetime",
    "expiry_text": "expiry_text",
    "start": "start",
    "double_opt_in": "double_opt_in",
}


class PlanForm(forms.ModelForm):
    description = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    trigger = forms.ChoiceField(choices=TRIGGERS, label="Who enters", initial="none")
    keywords = WordsField(label="Keywords", help_text="E.g. SURVEY, JOIN (commas or spaces between them).")
    event = forms.RegexField(
        regex=r"^[a-z0-9_.-]{1,50}$", required=False, label="Event type", help_text="E.g. purchase"
    )
    sender = forms.ChoiceField(
        required=False,
        label="Sender",
        help_text="Any sender: a message to any of your numbers may enter. A sender: only messages to it "
        "enter, and journeys the contact did not start by writing (an event, bulk) text from it.",
    )
    reentry = forms.ChoiceField(choices=REENTRY, label="May someone enter again?", initial="after_end")
    interrupts_other_plans = forms.BooleanField(
        required=False,
        initial=True,
        label="Entering ends their journeys in other plans",
        help_text="Unticked: this plan's keyword is not heard while they are in another plan.",
    )
    lifetime = DurationField(
        required=True, label="A journey lasts at most", help_text="Then it ends as expired."
    )
    expiry_text = forms.CharField(
        required=False,
        max_length=5000,
        label="Text sent when a journey expires",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional.",
    )
    track_links = forms.BooleanField(
        required=False, initial=True, label="Track links", help_text="Links in texts are counted when opened."
    )
    double_opt_in = forms.BooleanField(
        required=False,
        label="Double opt-in",
        help_text="The keyword is not consent yet: the first step asks “Reply YES to …”, and the YES is.",
    )
    start = forms.ChoiceField(label="First step", required=False)

    class Meta:
        model = Plan
        fields = ["name", "slug"]

    def __init__(self, *args, initial_document: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.document = initial_document  # read here; clean() edits a copy
        steps = (self.document or {}).get("steps", ())
        self.fields["start"].choices = [(s["id"], step_dict_choice(s)) for s in steps]
        goals = []
        current = ((self.document or {}).get("entry") or {}).get("sender")
        self.fields["sender"].choices = sender_choices(current)
        if self.document is not None:
            doc = self.document
            entry = doc.get("entry", {})
            self.initial |= {
                "name": doc.get("name") or self.initial.get("name"),
                "description": doc.get("description", ""),
                "trigger": entry.get("trigger", "none"),
                "keywords": entry.get("keywords", []),
                "event": entry.get("event") or "",
                "sender": entry.get("sender") or "",
                "reentry": doc.get("reentry", "after_end"),
                "interrupts_other_plans": doc.get("interrupts_other_plans", True),
                "lifetime": doc.get("lifetime", "P7D"),
                "expiry_text": doc.get("expiry_text", ""),
                "track_links": doc.get("track_links", True),
                "double_opt_in": doc.get("double_opt_in", False),
                "start": doc.get("start"),
            }
            goals = [dict(g, event=g.get("event") or "") for g in doc.get("goals", ())]
        else:
            self.initial.setdefault("lifetime", "P7D")
            self.fields["start"].widget = forms.HiddenInput()
        self.goals = GoalFormSet(self.data if self.is_bound else None, prefix="goals", initial=goals)
        untracked = links_untracked_reason()
        if untracked:  # the box must not promise what this installation cannot do
            self.fields["track_links"].help_text = untracked

    def is_valid(self) -> bool:
        return all([self.goals.is_valid(), super().is_valid()])

    def _goals_cleaned(self) -> list[dict]:
        if not self.goals.is_valid():
            return []
        kept = [f for f in self.goals.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        self._goal_forms = kept
        return [
            {
                "slug": row["slug"],
                "name": row["name"],
                "points": row["points"] or 0,
                "event": row["event"] or None,
            }
            for row in (f.cleaned_data for f in kept)
        ]

    def clean(self):
        cleaned = super().clean()
        if self.errors or not self.goals.is_valid():
            return cleaned
        slug = cleaned.get("slug") or self.instance.slug
        name = cleaned.get("name") or self.instance.name
        document = copy.deepcopy(self.document) or starter_document(slug=slug, name=name)
        trigger = cleaned["trigger"]
        entry = {"trigger": trigger, "sender": cleaned.get("sender") or None}
        if trigger == "keyword":
            entry["keywords"] = cleaned["keywords"]
        if trigger == "event":
            entry["event"] = cleaned["event"] or None
        document |= {
            "name": name,
            "description": cleaned["description"],
            "entry": entry,
            "reentry": cleaned["reentry"],
            "interrupts_other_plans": cleaned["interrupts_other_plans"],
            "lifetime": cleaned["lifetime"],
            "expiry_text": cleaned["expiry_text"],
            "track_links": cleaned["track_links"],
            "goals": self._goals_cleaned(),
        }
        document.pop("double_opt_in", None)
        if cleaned["double_opt_in"]:
            document["double_opt_in"] = True
        if self.document is not None and cleaned.get("start"):
            document["start"] = cleaned["start"]
        try:
            cleaned["normal"] = plan_document_check(document)
        except FlowInvalid as exc:
            self._problems_show(exc, document)
        return cleaned

    def _problems_show(self, exc: FlowInvalid, document: dict) -> None:
        names = {s["id"]: s.get("name") or s["id"] for s in document.get("steps", ()) if isinstance(s, dict)}
        for problem in exc.problems:
            field = _FIELD_OF.get(problem.field.split("[")[0]) if problem.step is None else None
            if problem.step is None and problem.field.startswith("goals["):
                index = int(problem.field[6:].split("]")[0])
                if index < len(self._goal_forms):
                    row = self._goal_forms[index]
                    sub = problem.field.split(".", 1)[1] if "." in problem.field else None
                    row.add_error(sub if sub in row.fields else None, problem.message)
                    self.add_error(None, ValidationError("A goal needs fixing (see Goals below)."))
                    continue
            if field and field in self.fields:
                self.add_error(field, problem.message)
            else:
                self.add_error(None, problem.say(names))


class ReportFilterForm(forms.Form):
    """The days enrollments began in, both inclusive (the report's and the plans list's)."""

    date_from = forms.DateField(
        required=False, label="Enrolled from", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(required=False, label="to", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError("The start date is after the end date.")
        return data

    def problems(self) -> str:
        """The errors in words, each after the parameter it is about (for a download)."""
        return " ".join(
            f"{'' if k == '__all__' else k + ': '}{e}" for k, es in self.errors.items() for e in es
        )
