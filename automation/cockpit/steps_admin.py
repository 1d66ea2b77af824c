"""The plan's step editor in the admin: each step edited on a page of its own with its
kind's form (`StepKind.form_class`), added after any exit of another step, moved in the
list or deleted; the whole draft is checked on every save (`automation.engine.plans`)
and its problems are shown on the fields they name, in a marketer's words. Also: the
draft as JSON for those who want it, and a JSON file imported into the draft.

`PlanStepsMixin` is mixed into `automation.admin.PlanAdmin`; the views are thin doors
onto the plan services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from automation.engine.plans import (
    MAX_DOCUMENT_BYTES,
    document_dump,
    document_load,
    plan_draft_document,
    plan_draft_save,
    plan_import,
    plan_step_delete,
    plan_step_move,
    plan_step_save,
)
from automation.flow import KINDS, FlowInvalid
from automation.flow.edit import step_exits, step_id_free, step_remove
from automation.flow.read import CONTACT_FIELDS, SLUG, STEP_ID
from automation.models import Plan
from infra.strict_json import text_refusal


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


def step_names(document: Any) -> dict[str, str]:
    """Step id → name, for a document as given (a refused one too: only ids that are ids,
    names that are text)."""
    steps = document.get("steps") if isinstance(document, dict) else None
    names = {}
    for step in steps if isinstance(steps, list) else ():
        step_id, name = (step.get("id"), step.get("name")) if isinstance(step, dict) else (None, None)
        if isinstance(step_id, str) and STEP_ID.fullmatch(step_id):
            ok = isinstance(name, str) and name and len(name) <= 100 and text_refusal(name) is None
            names[step_id] = name if ok else step_id
    return names


def problems_say(exc: FlowInvalid, document: Any) -> list[str]:
    names = step_names(document)
    return [problem.say(names) for problem in exc.problems]


class PlanStepsMixin:
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/steps/add/", view(self.step_add_view), name="automation_plan_step_add"),
            path(
                "<path:object_id>/steps/<slug:step_id>/delete/",
                view(self.step_delete_view),
                name="automation_plan_step_delete",
            ),
            path(
                "<path:object_id>/steps/<slug:step_id>/move/",
                view(require_POST(self.step_move_view)),
                name="automation_plan_step_move",
            ),
            path("<path:object_id>/steps/<slug:step_id>/", view(self.step_view), name="automation_plan_step"),
            path("<path:object_id>/json/", view(self.plan_json_view), name="automation_plan_json"),
            path("<path:object_id>/import/", view(self.plan_import_view), name="automation_plan_import"),
            path("import/", view(self.plan_import_new_view), name="automation_plan_import_new"),
            *super().get_urls(),
        ]

    # --- helpers -------------------------------------------------------------------------

    def _editable(self, request, object_id) -> tuple[Plan, dict]:
        plan = self._cockpit_plan(request, object_id, change=True)
        document = plan_draft_document(plan=plan)
        if document is None:
            raise Http404("This plan has no revision yet.")
        return plan, document

    def _plan_url(self, plan: Plan) -> str:
        return reverse("admin:automation_plan_change", args=[plan.pk]) + "#plan-steps"

    @staticmethod
    def _choices(document: dict) -> dict:
        steps = [(i, f"{n} ({i})" if n != i else i) for i, n in step_names(document).items()]
        goals = [(g["slug"], g["name"]) for g in document.get("goals", ())]
        return {"steps": steps, "goals": goals}

    def _step_page(self, request, plan, document, *, kind, form, step_id, title, after=None):
        context = self._cockpit_context(request, plan, title)
        context |= {
            "form": form,
            "kind": kind,
            "step_id": step_id,
            "after": after,
            "sections": form_sections(form),
            "contact_fields": [*CONTACT_FIELDS, "attributes."],
            "plan_slugs": list(Plan.objects.exclude(pk=plan.pk).values_list("slug", flat=True)[:200]),
            "media": form.media,
        }
        return TemplateResponse(request, "cockpit/plan_step.html", context)

    def _save_step(self, request, plan, document, form, *, kind, replaces=None, after=None) -> bool:
        """Save the form's step into the draft; False (problems on the form) when refused."""
        step = form.step(type=kind.type)
        try:
            plan_step_save(plan=plan, step=step, replaces=replaces, after=after, user=request.user)
        except FlowInvalid as exc:
            ids = {step["id"], replaces} - {None}
            names = step_names(document) | {step["id"]: step.get("name") or step["id"]}
            form.problems_show(exc.problems, step_ids=ids, say=lambda p: p.say(names))
            return False
        messages.success(request, f"“{step.get('name') or step['id']}” is saved in the draft.")
        return True

    # --- pages ---------------------------------------------------------------------------

    def step_view(self, request, object_id, step_id):
        plan, document = self._editable(request, object_id)
        step = next((s for s in document["steps"] if s["id"] == step_id), None)
        if step is None:
            raise Http404("No such step in this plan.")
        kind = KINDS[step["type"]]
        choices = self._choices(document)
        if request.method == "POST":
            form = kind.form_class(request.POST, **choices)
            if form.is_valid() and self._save_step(
                request, plan, document, form, kind=kind, replaces=step_id
            ):
                return HttpResponseRedirect(self._plan_url(plan))
        else:
            form = kind.form_class.for_step(step, **choices)
        name = step.get("name") or step_id
        return self._step_page(
            request, plan, document, kind=kind, form=form, step_id=step_id, title=f"Step: {name}"
        )

    def step_add_view(self, request, object_id):
        plan, document = self._editable(request, object_id)
        source, field = request.GET.get("after", ""), request.GET.get("exit", "")
        after = None
        if source:
            step = next((s for s in document["steps"] if s["id"] == source), None)
            way = next((w for w in step_exits(step) if w.field == field), None) if step else None
            if way is None:
                raise Http404("No such exit to add a step after.")
            after = (source, field, way)
        kind = KINDS.get(request.GET.get("type", ""))
        if kind is None:
            context = self._cockpit_context(request, plan, "Add a step: what should it do?")
            context |= {"kinds": list(KINDS.values()), "after": after, "query": request.GET.urlencode()}
            return TemplateResponse(request, "cockpit/plan_step_kinds.html", context)
        choices = self._choices(document)
        if request.method == "POST":
            form = kind.form_class(request.POST, **choices)
            if form.is_valid() and self._save_step(
                request, plan, document, form, kind=kind, after=after[:2] if after else None
            ):
                return HttpResponseRedirect(self._plan_url(plan))
        else:
            initial = {"id": step_id_free(document, kind.type.replace("_", "-"))}
            connect = after[2].target if after else None
            form = kind.form_class.for_step(None, initial=initial, connect=connect, **choices)
        return self._step_page(
            request,
            plan,
            document,
            kind=kind,
            form=form,
            step_id=None,
            title=f"Add a step: {kind.description}",
            after=after,
        )

    def step_delete_view(self, request, object_id, step_id):
        plan, document = self._editable(request, object_id)
        names = step_names(document)
        if step_id not in names:
            raise Http404("No such step in this plan.")
        if request.method == "POST":
            try:
                plan_step_delete(plan=plan, step_id=step_id, user=request.user)
            except FlowInvalid as exc:
                messages.error(
                    request, f"“{names[step_id]}” is not deleted: the plan would not work without it."
                )
                for line in problems_say(exc, document):
                    messages.error(request, line)
            else:
                messages.success(
                    request, f"“{names[step_id]}” is deleted from the draft; exits to it now end the journey."
                )
            return HttpResponseRedirect(self._plan_url(plan))
        incoming = [
            (names[s["id"]], way.label)
            for s in document["steps"]
            for way in step_exits(s)
            if way.target == step_id
        ]
        context = self._cockpit_context(request, plan, f"Delete the step “{names[step_id]}”?")
        new_start = None
        if document.get("start") == step_id:
            new_start = step_remove(document, step_id).get("start")
        context |= {
            "step_id": step_id,
            "step_name": names[step_id],
            "incoming": incoming,
            "new_start": names.get(new_start),
        }
        return TemplateResponse(request, "cockpit/plan_step_delete.html", context)

    def step_move_view(self, request, object_id, step_id):
        plan, document = self._editable(request, object_id)
        if step_id not in step_names(document):
            raise Http404("No such step in this plan.")
        offset = -1 if request.POST.get("direction") == "up" else 1
        try:
            plan_step_move(plan=plan, step_id=step_id, offset=offset, user=request.user)
        except FlowInvalid as exc:  # the draft was refused by a change elsewhere meanwhile
            for line in problems_say(exc, document):
                messages.error(request, line)
        return HttpResponseRedirect(self._plan_url(plan))

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


def form_sections(form) -> list[tuple[str, str, object]]:
    """What the step page shows, in order: ("fields", title, [bound fields]) and ("rows",
    title, formset); the fields every step has come last."""
    common = ("id", "name", "goal")
    sections = []
    declared = getattr(form, "sections", None)
    if declared:
        for title, names in declared:
            if isinstance(names, str):
                sections.append(("rows", form.list_labels.get(names, title), form.rows[names]))
            else:
                sections.append(("fields", title, [form[n] for n in names]))
    else:
        own = [form[n] for n in form.fields if n not in common]
        if own:
            sections.append(("fields", "", own))
        for key, formset in form.rows.items():
            sections.append(("rows", form.list_labels.get(key, key), formset))
    sections.append(("fields", "About this step", [form[n] for n in common]))
    return sections
