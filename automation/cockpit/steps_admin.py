"""The plan's step editor in the admin: each step edited on a page of its own with its
kind's form (`StepKind.form_class`), added after any way out of another step, or made in
place — any way out of a step may be pointed at "A new step: …", filled in on the next page
and saved together with it (`automation.cockpit.step_chain`) —, or deleted; the whole draft
is checked on every save (`automation.engine.plans`) and its problems are shown on the
fields they name, in a marketer's words: steps by their titles, never their ids
(`automation.cockpit.steps_view`).

`PlanStepsMixin` is mixed into `automation.cockpit.admin.PlanAdmin`; the views are thin
doors onto the plan services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from automation.cockpit.step_chain import (
    Chain,
    ChainBroken,
    chain_add,
    chain_document,
    chain_dumps,
    chain_loads,
    chain_start,
    markers_ended,
)
from automation.cockpit.steps_view import exit_said, step_dict_choice, step_dict_title
from automation.engine.plans import (
    plan_document_check,
    plan_draft_document,
    plan_draft_save,
    plan_step_delete,
    plan_step_save,
)
from automation.flow import KINDS, FlowInvalid
from automation.flow.edit import step_exits, step_id_free, step_remove
from automation.flow.forms import NEW
from automation.flow.read import CONTACT_FIELDS, STEP_ID
from automation.models import Plan
from infra.strict_json import text_refusal


def step_names(document: Any) -> dict[str, str]:
    """Step id → title (its name, else what it does), for a document as given (a refused
    one too: only ids that are ids, titles that are text)."""
    steps = document.get("steps") if isinstance(document, dict) else None
    names = {}
    for step in steps if isinstance(steps, list) else ():
        step_id = step.get("id") if isinstance(step, dict) else None
        if isinstance(step_id, str) and STEP_ID.fullmatch(step_id):
            title = step_dict_title(step)
            ok = isinstance(title, str) and title and len(title) <= 100 and text_refusal(title) is None
            names[step_id] = title if ok else step_id
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
                "<path:object_id>/steps/new/",
                view(require_POST(self.step_new_view)),
                name="automation_plan_step_new",
            ),
            path(
                "<path:object_id>/steps/<slug:step_id>/delete/",
                view(self.step_delete_view),
                name="automation_plan_step_delete",
            ),
            path("<path:object_id>/steps/<slug:step_id>/", view(self.step_view), name="automation_plan_step"),
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
        """What a step's form offers: the plan's steps (by title), its goals, a new step of
        each kind."""
        steps = [(s["id"], step_dict_choice(s)) for s in document["steps"]]
        goals = [(g["slug"], g["name"]) for g in document.get("goals", ())]
        new = [(f"{NEW}{kind.type}", f"New: {kind.description}") for kind in KINDS.values()]
        return {"steps": steps, "goals": goals, "new": new}

    def _step_page(self, request, plan, *, kind, form, step_id, title, after_said="", chain=None):
        context = self._cockpit_context(request, plan, title)
        context |= {
            "form": form,
            "kind": kind,
            "step_id": step_id,
            "after_said": after_said,
            "sections": form_sections(form),
            "contact_fields": [*CONTACT_FIELDS, "attributes."],
            "plan_slugs": list(Plan.objects.exclude(pk=plan.pk).values_list("slug", flat=True)[:200]),
            "media": form.media,
        }
        if chain is not None:
            context |= {
                "chain": chain_dumps(chain),
                "chain_waiting": [step_dict_title(edit["step"]) for edit in chain.edits],
                "form_action": reverse("admin:automation_plan_step_new", args=[plan.pk]),
            }
        return TemplateResponse(request, "cockpit/plan_step.html", context)

    def _problems_show(self, form, exc: FlowInvalid, document: dict, step: dict, replaces=None) -> None:
        ids = {step["id"], replaces} - {None}
        names = step_names(document) | {step["id"]: step_dict_title(step)}
        form.problems_show(exc.problems, step_ids=ids, say=lambda p: p.say(names))

    def _save_step(self, request, plan, document, form, *, kind, replaces=None, after=None):
        """Save the form's step into the draft: the page to go to next — the plan's, the
        first new step's the step asks for (nothing saved yet), or None (problems on the
        form) when refused."""
        step = form.step(type=kind.type)
        try:
            chain = chain_start(plan.pk, step, replaces=replaces, after=after)
        except ChainBroken as exc:
            form.add_error(None, str(exc))
            return None
        if chain is not None:
            return self._chain_next(request, plan, document, chain, form)
        try:
            plan_step_save(plan=plan, step=step, replaces=replaces, after=after, user=request.user)
        except FlowInvalid as exc:
            self._problems_show(form, exc, document, step, replaces)
            return None
        messages.success(request, f"“{step_dict_title(step)}” is saved in the draft.")
        return HttpResponseRedirect(self._plan_url(plan))

    def _chain_next(self, request, plan, document, chain: Chain, form):
        """The page of the next new step `chain` waits for — once the steps it holds are
        checked as far as they can be (their own problems go back on `form`)."""
        shown = chain_document(document, chain)
        latest = chain.edits[-1]
        try:
            plan_document_check(markers_ended(shown))
        except FlowInvalid as exc:
            if any(p.step == latest["step"]["id"] for p in exc.problems):
                self._problems_show(form, exc, document, latest["step"], latest["replaces"])
                return None
        return self._chain_page(request, plan, shown, chain)

    def _chain_page(self, request, plan, shown: dict, chain: Chain, form=None):
        source_id, exit_field, kind_type = chain.queue[0]
        kind = KINDS[kind_type]
        source = next(s for s in shown["steps"] if s["id"] == source_id)
        if form is None:
            form = _new_step_form(kind, shown, self._choices(shown))
        return self._step_page(
            request,
            plan,
            kind=kind,
            form=form,
            step_id=None,
            title=f"A new step: {kind.description}",
            after_said=exit_said(source, exit_field),
            chain=chain,
        )

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
            if form.is_valid():
                page = self._save_step(request, plan, document, form, kind=kind, replaces=step_id)
                if page is not None:
                    return page
        else:
            form = kind.form_class.for_step(step, **choices)
        title = f"Step: {step_dict_title(step)}"
        return self._step_page(request, plan, kind=kind, form=form, step_id=step_id, title=title)

    def step_add_view(self, request, object_id):
        plan, document = self._editable(request, object_id)
        source, field = request.GET.get("after", ""), request.GET.get("exit", "")
        after, after_said = None, ""
        if source:
            step = next((s for s in document["steps"] if s["id"] == source), None)
            way = next((w for w in step_exits(step) if w.field == field), None) if step else None
            if way is None:
                raise Http404("No such exit to add a step after.")
            after, after_said = (source, field, way), exit_said(step, field)
        kind = KINDS.get(request.GET.get("type", ""))
        if kind is None:
            context = self._cockpit_context(request, plan, "Add a step: what should it do?")
            context |= {"kinds": list(KINDS.values()), "after_said": after_said}
            context["query"] = request.GET.urlencode()
            return TemplateResponse(request, "cockpit/plan_step_kinds.html", context)
        choices = self._choices(document)
        if request.method == "POST":
            form = kind.form_class(request.POST, **choices)
            if form.is_valid():
                page = self._save_step(
                    request, plan, document, form, kind=kind, after=after[:2] if after else None
                )
                if page is not None:
                    return page
        else:
            form = _new_step_form(kind, document, choices, connect=after[2].target if after else None)
        return self._step_page(
            request,
            plan,
            kind=kind,
            form=form,
            step_id=None,
            title=f"Add a step: {kind.description}",
            after_said=after_said,
        )

    def step_new_view(self, request, object_id):
        """A new step a way out asked for, filled in: the next one's page, or — the last —
        all of them saved with the step that asked, at once."""
        plan, document = self._editable(request, object_id)
        try:
            chain = chain_loads(request.POST.get("chain", ""), plan_id=plan.pk)
            shown = chain_document(document, chain)
        except ChainBroken as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(self._plan_url(plan))
        kind = KINDS[chain.queue[0][2]]
        form = kind.form_class(request.POST, **self._choices(shown))
        if form.is_valid():
            page = self._chain_save(request, plan, document, chain, form, kind=kind)
            if page is not None:
                return page
        return self._chain_page(request, plan, shown, chain, form)

    def _chain_save(self, request, plan, document, chain: Chain, form, *, kind):
        """The new step of `form` added to `chain`: the next new step's page, or, the last,
        every step of the chain saved at once (the plan's page); None: problems on `form`."""
        step = form.step(type=kind.type)
        try:
            longer = chain_add(chain, step)
        except ChainBroken as exc:
            form.add_error(None, str(exc))
            return None
        if longer.queue:
            return self._chain_next(request, plan, document, longer, form)
        try:
            plan_draft_save(plan=plan, document=chain_document(document, longer), user=request.user)
        except FlowInvalid as exc:
            self._problems_show(form, exc, document, step)
            return None
        first, *made = [step_dict_title(edit["step"]) for edit in longer.edits]
        said = ", ".join(f"“{title}”" for title in made)
        messages.success(request, f"“{first}” is saved in the draft, with its new steps: {said}.")
        return HttpResponseRedirect(self._plan_url(plan))

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


def _new_step_form(kind, document: dict, choices: dict, **extra):
    """The empty form of a new step of `kind`, its id free in `document`."""
    initial = {"id": step_id_free(document, kind.type.replace("_", "-"))}
    return kind.form_class.for_step(None, initial=initial, **extra, **choices)
