"""The plan page's form: the plan's draft as a document in the CONTRACT §6 format,
checked in full on save (every problem named by step and field). The marketer's editor
for each step kind replaces this text area in the next issue; the document stays the
one source of what a plan does."""

from django import forms
from django.core.exceptions import ValidationError

from automation.flow import FlowInvalid
from automation.models import Plan
from automation.services.plans import document_dump, document_load, plan_document_check


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


class PlanForm(forms.ModelForm):
    document = forms.CharField(
        required=False,
        strip=False,
        label="Plan (JSON)",
        widget=forms.Textarea(
            attrs={"rows": 28, "cols": 100, "spellcheck": "false", "class": "plan-document"}
        ),
        help_text=(
            "The plan's draft in the smsjourney.plan/1 format (README: “Authoring a plan”). Saving "
            "checks it; “Save and publish” makes it the revision new enrollments take. Left empty "
            "on a new plan: a one-step starter."
        ),
    )

    class Meta:
        model = Plan
        fields = ["name", "slug"]

    def __init__(self, *args, initial_document: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if initial_document is not None:
            self.initial["document"] = document_dump(initial_document)

    def clean(self):
        cleaned = super().clean()
        slug, name = cleaned.get("slug") or self.instance.slug, cleaned.get("name") or self.instance.name
        text = cleaned.get("document") or ""
        if not text.strip():
            if self.instance.pk:
                raise ValidationError({"document": "Write the plan's document (it cannot be empty)."})
            cleaned["normal"] = plan_document_check(starter_document(slug=slug, name=name))
            return cleaned
        try:
            document = document_load(text)
            if isinstance(document, dict) and slug and document.get("slug") != slug:
                raise ValidationError({"document": f"The document's slug must be this plan's: {slug!r}."})
            cleaned["normal"] = plan_document_check(document)
        except FlowInvalid as exc:
            raise ValidationError({"document": [str(p) for p in exc.problems]}) from exc
        return cleaned
