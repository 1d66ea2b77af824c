"""What a browser would post for a page's form as it was shown: every field with the value
on the page (formsets with their management forms), for tests to change a few and submit."""

from django import forms


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
