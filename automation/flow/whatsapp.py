"""A step's WhatsApp template (docs/reference.md §6, §8): the approved template of Twilio's
Content API that goes instead of the step's text over WhatsApp outside the 24-hour window,
``{"content_sid": "HX…", "variables": {"1": "{{ contact.first_name }}"}}``. Its reading
(every problem named), its two fields on the step's form, and the plain value a kind hands
to the runtime. The kinds that send a text (`send`, `ask`) use it; pure: no database."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from automation.flow.read import Reader, shown

KEY = "whatsapp_template"
CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
VARIABLE = re.compile(r"[A-Za-z0-9_]{1,20}")
MAX_VARIABLES = 20
# The step form's fields (their names put a problem at `whatsapp_template.<key>` on them).
SID_FIELD = "whatsapp_template_content_sid"
VARIABLES_FIELD = "whatsapp_template_variables"


def read_whatsapp_template(r: Reader) -> dict | None:
    """The step's optional `whatsapp_template` in its normal form (``variables`` always
    there, in the order written), or None when it has none."""
    raw = r.get(KEY, None)
    if raw is None:
        return None
    t = r.child(raw, KEY, allowed=("content_sid", "variables"))
    sid = t.raw.get("content_sid")
    if sid is None:
        t.bad("content_sid", "is required: the template's Content SID (HX and 32 hex digits)")
    elif not isinstance(sid, str) or not CONTENT_SID.fullmatch(sid):
        t.bad(
            "content_sid", f"{shown(sid)} is not a Content SID: HX and 32 hex digits (Twilio's Content API)"
        )
    raw_variables = t.get("variables", {})
    v = t.child(raw_variables, "variables")
    if len(v.raw) > MAX_VARIABLES:
        t.bad("variables", f"has {len(v.raw):,} variables: at most {MAX_VARIABLES} are allowed")
    variables: dict[str, str] = {}
    for name in list(v.raw)[:MAX_VARIABLES]:
        if not VARIABLE.fullmatch(name):
            v.bad(name[:30], f"{shown(name)} is not a variable's name: 1 to 20 letters, digits or _ (e.g. 1)")
            continue
        value = v.text(name)
        if isinstance(v.raw[name], str) and not v.raw[name].strip():
            v.bad(name, "is empty: Twilio sends no template with an empty variable")
        variables[name] = value
    return {"content_sid": sid, "variables": variables}


def whatsapp_template_of(data: Mapping[str, Any]) -> dict | None:
    """The step's template as the runtime takes it (plain dicts, not the frozen revision's
    mappings), or None."""
    template = data.get(KEY)
    if template is None:
        return None
    return {"content_sid": template["content_sid"], "variables": dict(template["variables"])}


# --- the step form's fields -------------------------------------------------------------------


class VariablesField(forms.CharField):
    """A template's variables typed one a line, ``1 = {{ contact.first_name }}`` → {"1": …}."""

    widget = forms.Textarea(attrs={"rows": 3, "class": "step-text"})

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "Template variables")
        kwargs.setdefault(
            "help_text",
            "One a line: the variable, =, and its value (a text like the step's), e.g. "
            "1 = {{ contact.first_name }}. At most 20.",
        )
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, Mapping):
            return "\n".join(f"{key} = {text}" for key, text in value.items())
        return value

    def clean(self, value):
        value = super().clean(value)
        variables: dict[str, str] = {}
        errors = []
        for number, line in enumerate((value or "").splitlines(), 1):
            if not line.strip():
                continue
            key, sep, text = line.partition("=")
            key = key.strip()
            if not sep or not key:
                errors.append(f"Line {number}: write the variable, = and its value, e.g. 1 = Hello.")
            elif key in variables:
                errors.append(f"Line {number}: the variable {key} is given twice.")
            else:
                variables[key] = text.strip()
        if errors:
            raise ValidationError(errors)
        return variables


def content_sid_field() -> forms.CharField:
    return forms.CharField(
        required=False,
        max_length=100,
        label="WhatsApp template (Content SID)",
        help_text="Over WhatsApp, more than 24 hours after the contact last wrote there, this approved "
        "template goes instead of the text (HX and 32 hex digits, from Twilio's Content Template "
        "Builder). Empty: the text fails there (error 63016).",
    )


def whatsapp_template_initial(data: Mapping[str, Any]) -> dict:
    template = data.get(KEY) or {}
    return {
        SID_FIELD: template.get("content_sid") or "",
        VARIABLES_FIELD: dict(template.get("variables", {})),
    }


def whatsapp_template_data(cleaned: Mapping[str, Any]) -> dict:
    """The step's `whatsapp_template` from the form ({} when both fields are empty)."""
    sid, variables = (cleaned.get(SID_FIELD) or "").strip(), cleaned.get(VARIABLES_FIELD) or {}
    if not sid and not variables:
        return {}
    return {KEY: {"content_sid": sid or None, "variables": variables}}
