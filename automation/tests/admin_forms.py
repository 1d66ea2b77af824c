"""What a browser would post for a page's form as it was shown: every field with the value
on the page (formsets with their management forms), for tests to change a few and submit;
and the plan's pages posted that way (its settings, a step), with the revision they made."""

from django import forms
from django.urls import reverse

from automation.models import Plan, PlanRevision


def form_data(form, data: dict | None = None) -> dict:
    data = {} if data is None else data
    for bf in form:
        value = bf.value()
        widget = bf.field.widget
        if isinstance(widget, forms.MultiWidget):
            parts = value if isinstance(value, list | tuple) else widget.decompress(value)
            for i, part in enumerate(parts):
                data[f"{bf.html_name}_{i}"] = "" if part is None else part
        elif isinstance(widget, forms.CheckboxInput):
            if value:
                data[bf.html_name] = "on"
        else:
            data[bf.html_name] = "" if value is None else value
    return data


def formset_data(formset, data: dict) -> dict:
    form_data(formset.management_form, data)
    for row in formset:
        form_data(row, data)
    return data


def page_data(response) -> dict:
    """The data of the page's main form (the step form or the admin's plan form)."""
    context = response.context
    if "adminform" in context:
        form = context["adminform"].form
        data = form_data(form)
        return formset_data(form.goals, data)
    form = context["form"]
    data = form_data(form)
    for formset in getattr(form, "rows", {}).values():
        formset_data(formset, data)
    return data


def change_url(plan: Plan) -> str:
    return reverse("admin:automation_plan_change", args=[plan.pk])


def newest(plan: Plan) -> PlanRevision:
    """The plan's newest revision: the draft the last save made, or the published one."""
    return plan.revisions.order_by("-number").first()


def post_change(client, plan: Plan, follow: bool = False, **changes):
    """Post the plan page as it is shown, with `changes` to its fields."""
    data = page_data(client.get(change_url(plan))) | changes
    return client.post(change_url(plan), data, follow=follow)


def step_url(plan: Plan, step_id: str) -> str:
    return reverse("admin:automation_plan_step", args=[plan.pk, step_id])


def post_step(client, plan: Plan, step_id: str, url: str | None = None, **changes):
    """Post a step's page as it is shown, with `changes` to its fields."""
    url = url or step_url(plan, step_id)
    return client.post(url, page_data(client.get(url)) | changes)
