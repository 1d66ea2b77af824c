"""The plan as JSON in the admin, for those who want it: the draft edited as a document,
a JSON file imported into the draft (and published if asked), a new plan from a file. The
whole document is checked as any import is (`automation.engine.plans`); its problems are
said in a marketer's words.

`PlanJsonMixin` is mixed into `automation.cockpit.admin.PlanAdmin`."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path

from automation.cockpit.steps_admin import problems_say
from automation.engine.plans import (
    MAX_DOCUMENT_BYTES,
    document_dump,
    document_load,
    plan_draft_save,
    plan_import,
)
from automation.flow import FlowInvalid
from automation.flow.read import SLUG


class PlanJsonForm(forms.Form):
    document = forms.CharField(
        strip=False,
        label="The plan as JSON",
        widget=forms.Textarea(attrs={"rows": 30, "spellcheck": "false", "class": "plan-document"}),
        help_text="The smsjourney.plan/1 format (README: “The plan format”). Saving checks all of it.",
    )


class PlanImportForm(forms.Form):
    file = forms.FileField(label="JSON file", help_text="A plan exported from here or written by hand.")
    publish = forms.BooleanField(required=False, label="Publish it at once")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_DOCUMENT_BYTES:
            raise ValidationError(f"The file is larger than {MAX_DOCUMENT_BYTES:,} bytes.")
        return upload.read()


class PlanJsonMixin:
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/json/", view(self.plan_json_view), name="automation_plan_json"),
            path("<path:object_id>/import/", view(self.plan_import_view), name="automation_plan_import"),
            path("import/", view(self.plan_import_new_view), name="automation_plan_import_new"),
            *super().get_urls(),
        ]

    def plan_json_view(self, request, object_id):
        plan, document = self._editable(request, object_id)
        form = PlanJsonForm(initial={"document": document_dump(document)})
        if request.method == "POST":
            form = PlanJsonForm(request.POST)
            if form.is_valid():
                new = None
                try:
                    new = document_load(form.cleaned_data["document"])
                    plan_draft_save(plan=plan, document=new, user=request.user)
                except FlowInvalid as exc:
                    for line in problems_say(exc, new):
                        form.add_error("document", line)
                else:
                    messages.success(request, "The draft is saved.")
                    return HttpResponseRedirect(self._plan_url(plan))
        context = self._cockpit_context(request, plan, f"Edit {plan.name} as JSON")
        context["form"] = form
        return TemplateResponse(request, "cockpit/plan_json.html", context)

    def plan_import_view(self, request, object_id):
        plan, _ = self._editable(request, object_id)
        form = PlanImportForm()
        if request.method == "POST":
            form = PlanImportForm(request.POST, request.FILES)
            if form.is_valid():
                self._import(request, plan, form)
                if not form.errors:
                    return HttpResponseRedirect(self._plan_url(plan))
        context = self._cockpit_context(request, plan, f"Import a JSON file into {plan.name}")
        context["form"] = form
        return TemplateResponse(request, "cockpit/plan_import.html", context)

    def plan_import_new_view(self, request):
        """A plan from a JSON file (a new one, or the next revision of the plan its slug
        names), as `plan_import` does."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = PlanImportForm()
        if request.method == "POST":
            form = PlanImportForm(request.POST, request.FILES)
            if form.is_valid():
                new = None
                try:
                    new = document_load(form.cleaned_data["file"])
                    result = plan_import(
                        document=new, draft=not form.cleaned_data["publish"], user=request.user
                    )
                except FlowInvalid as exc:
                    for line in problems_say(exc, new):
                        form.add_error("file", line)
                else:
                    said = "unchanged" if result.revision is None else f"revision {result.revision.number}"
                    messages.success(request, f"Imported “{result.plan.name}”: {said}.")
                    return HttpResponseRedirect(self._plan_url(result.plan))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import a plan (JSON)",
            "form": form,
        }
        return TemplateResponse(request, "admin/automation/plan/import_new.html", context)

    def _import(self, request, plan, form) -> None:
        new = None
        try:
            new = document_load(form.cleaned_data["file"])
            slug = new.get("slug") if isinstance(new, dict) else None
            if isinstance(slug, str) and SLUG.fullmatch(slug) and slug != plan.slug:
                raise ValidationError(
                    f"The file is the plan “{slug}”, not “{plan.slug}”: "
                    "import it as a new plan from the plans list, or change its slug."
                )
            plan_draft_save(plan=plan, document=new, user=request.user)
        except FlowInvalid as exc:
            for line in problems_say(exc, new):
                form.add_error("file", line)
            return
        except ValidationError as exc:
            form.add_error("file", exc)
            return
        messages.success(request, "The file is imported as the draft.")
        if form.cleaned_data["publish"]:
            self._maybe_publish(request, plan, force=True)
