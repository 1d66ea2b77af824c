"""The plan page's forms: every rule is judged on the submitted (unsaved) data.

Rules that concern one row (a keyword, a regex, a template, a timeout) and those that
concern several rows of one inline (one start state, a keyword twice from one state,
deleting a state that enrollments use) refuse the save for every plan. Whether the plan
as a whole makes a journey (a start state, a way forward from every non-final state) is
refused on save for an *active* plan; a draft or paused plan is saved with a warning (it
is built over several saves: transitions need saved states) and activation always checks.
"""

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from automation.matching import is_single_word, keyword_normalize
from automation.models import Plan, PlanState, Transition
from automation.services.plans import (
    WORD_MATCHES,
    PlanSpec,
    StateSpec,
    TransitionSpec,
    entry_keywords_errors,
    plan_structure_problems,
    state_row_errors,
    transition_pattern_errors,
)
from messaging.preview import sms_template_error


class PlanForm(forms.ModelForm):
    class Meta:
        model = Plan
        fields = [
            "name",
            "slug",
            "description",
            "entry_trigger",
            "entry_keywords",
            "reentry",
            "interrupts_other_plans",
            "enrollment_lifetime",
            "expiry_text",
        ]

    def clean(self):
        cleaned = super().clean()
        errors = entry_keywords_errors(
            entry_trigger=cleaned.get("entry_trigger", ""), entry_keywords=cleaned.get("entry_keywords", "")
        )
        if errors:
            self.add_error("entry_keywords", errors)
        lifetime = cleaned.get("enrollment_lifetime")
        if lifetime is not None and lifetime.total_seconds() <= 0:
            self.add_error("enrollment_lifetime", "Enrollments must live longer than zero.")
        expiry_text = cleaned.get("expiry_text") or ""
        error = sms_template_error(template=expiry_text) if expiry_text.strip() else None
        if error:
            self.add_error("expiry_text", error)
        return cleaned


class PlanStateForm(forms.ModelForm):
    class Meta:
        model = PlanState
        fields = [
            "position",
            "name",
            "is_start",
            "is_final",
            "message",
            "goal",
            "fallback_text",
            "timeout",
            "timeout_to",
        ]
        widgets = {"fallback_text": forms.Textarea(attrs={"rows": 2, "cols": 30})}

    def clean(self):
        cleaned = super().clean()
        errors = state_row_errors(
            name=cleaned.get("name") or "(unnamed)",
            message=cleaned.get("message"),
            fallback_text=cleaned.get("fallback_text", ""),
            timeout=cleaned.get("timeout"),
            has_timeout_to=cleaned.get("timeout_to") is not None,
        )
        if errors:
            raise ValidationError(errors)
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        # "One start state per plan" is judged over the whole submitted inline (the start
        # flag may move from one state to another in one save), not row by row against the DB.
        if NON_FIELD_ERRORS in self._errors:
            kept = [
                e
                for e in self._errors[NON_FIELD_ERRORS].as_data()
                if "one_start_state_per_plan" not in str(e)
            ]
            if kept:
                self._errors[NON_FIELD_ERRORS] = self.error_class(
                    [m for e in kept for m in e.messages], error_class="nonfield", renderer=self.renderer
                )
            else:
                del self._errors[NON_FIELD_ERRORS]


class TransitionForm(forms.ModelForm):
    class Meta:
        model = Transition
        fields = ["from_state", "match", "pattern", "to_state", "priority", "goal"]

    def clean(self):
        cleaned = super().clean()
        match, pattern = cleaned.get("match"), cleaned.get("pattern", "")
        if match:
            errors = transition_pattern_errors(match=match, pattern=pattern)
            if errors:
                self.add_error("pattern", errors)
        return cleaned


def _live_forms(formset) -> list:
    """The submitted rows that will exist after the save (not deleted, not blank extras)."""
    live = []
    for form in formset.forms:
        if formset.can_delete and formset._should_delete_form(form):
            continue
        if not form.instance.pk and not form.has_changed():
            continue
        live.append(form)
    return live


def _deleted_state_pks(states_formset) -> set[int]:
    if states_formset is None or not states_formset.can_delete:
        return set()
    return {
        f.instance.pk for f in states_formset.forms if f.instance.pk and states_formset._should_delete_form(f)
    }


def _row(form, *names: str) -> dict:
    """The submitted values of one inline row; a view-only row (not posted) keeps its saved ones."""
    data = getattr(form, "cleaned_data", None) or {}
    return {n: data[n] if n in data else getattr(form.instance, n, None) for n in names}


def _as_state(value) -> PlanState | None:
    """A state from cleaned data; a view-only inline row carries its initial pk instead."""
    if value is None or isinstance(value, PlanState):
        return value
    return PlanState.objects.filter(pk=value).first()


class PlanInlineFormSet(forms.BaseInlineFormSet):
    """Knows its sibling inlines on the plan page (set by PlanAdmin._create_formsets)."""

    siblings: dict[type, Any]

    def _sibling(self, model):
        return getattr(self, "siblings", {}).get(model)

    def _is_last(self) -> bool:
        return getattr(self, "is_last", True)

    def _structure_problems(self) -> list[str]:
        """For an active plan: the whole journey as submitted must work."""
        plan = self.instance
        if plan.status != Plan.Status.ACTIVE:
            return []
        states_fs, transitions_fs = self._sibling(PlanState), self._sibling(Transition)
        formsets = [fs for fs in (states_fs, transitions_fs) if fs is not None]
        if any(not fs.is_valid() for fs in formsets if fs is not self) or any(
            not f.is_valid() for fs in formsets for f in fs.forms
        ):
            return []  # the row errors come first
        states = []
        state_forms = _live_forms(states_fs) if states_fs is not None else []
        for i, f in enumerate(state_forms):
            d = _row(f, "name", "is_start", "is_final", "timeout", "timeout_to")
            target = _as_state(d["timeout_to"])
            states.append(
                StateSpec(
                    key=f.instance.pk or ("new", i),
                    name=d["name"] or "",
                    plan_id=plan.pk,
                    is_start=bool(d["is_start"]),
                    is_final=bool(d["is_final"]),
                    timeout=d["timeout"],
                    timeout_to=target.pk if target else None,
                    timeout_to_plan_id=target.plan_id if target else None,
                    timeout_to_name=target.name if target else "",
                )
            )
        if transitions_fs is not None:
            rows = [
                _row(f, "from_state", "to_state", "match", "pattern") for f in _live_forms(transitions_fs)
            ]
            pairs = [
                (_as_state(r["from_state"]), _as_state(r["to_state"]), r["match"] or "", r["pattern"] or "")
                for r in rows
                if r["from_state"] and r["to_state"]
            ]
        else:  # not on the page: the saved ones
            pairs = [
                (t.from_state, t.to_state, t.match, t.pattern)
                for t in Transition.objects.filter(plan=plan).select_related("from_state", "to_state")
            ]
        transitions = [
            TransitionSpec(
                from_key=source.pk,
                to_key=target.pk,
                match=match,
                pattern=pattern,
                from_name=source.name,
                to_name=target.name,
                from_plan_id=source.plan_id,
                to_plan_id=target.plan_id,
            )
            for source, target, match, pattern in pairs
        ]
        spec = PlanSpec(plan_id=plan.pk, name=plan.name, states=states, transitions=transitions)
        problems = plan_structure_problems(spec=spec)
        if problems:
            return [
                "This plan is active, so it must keep working after the save. Fix this "
                "(or pause the plan first and edit it over several saves):",
                *problems,
            ]
        return []


class PlanStateFormSet(PlanInlineFormSet):
    def clean(self):
        super().clean()
        errors = []
        live = _live_forms(self)
        rows = [_row(f, "name", "is_start", "timeout_to") for f in live]
        starts = [r["name"] for r in rows if r["is_start"]]
        if len(starts) > 1:
            names = ", ".join(f"“{n}”" for n in starts)
            errors.append(f"Only one state can be the start state; {names} are all ticked: keep one.")
        # Deleting a state an enrollment is (or was) in: the admin's protected-delete check
        # refuses it with the enrollments named (Enrollment.current_state is PROTECT).
        deleted = _deleted_state_pks(self)
        if deleted:
            for r in rows:
                target = _as_state(r["timeout_to"])
                if target is not None and target.pk in deleted:
                    errors.append(
                        f"State “{r['name']}” times out into “{target.name}”, which you are "
                        "deleting: change its “timeout to” as well."
                    )
        if errors:
            raise ValidationError(errors)
        if self._is_last():
            problems = self._structure_problems()
            if problems:
                raise ValidationError(problems)


class TransitionFormSet(PlanInlineFormSet):
    def clean(self):
        super().clean()
        errors = []
        live = _live_forms(self)
        deleted = _deleted_state_pks(self._sibling(PlanState))
        seen: set[tuple[int, str]] = set()
        for f in live:
            d = _row(f, "from_state", "to_state", "match", "pattern")
            source, target = _as_state(d["from_state"]), _as_state(d["to_state"])
            for state in (source, target):
                if state is not None and state.pk in deleted:
                    errors.append(
                        f"The transition {source} → {target} uses the state “{state.name}”, which you are "
                        "deleting: delete the transition too, or keep the state."
                    )
            pattern, match = d["pattern"] or "", d["match"]
            if source is None or match not in WORD_MATCHES or not is_single_word(pattern):
                continue
            key = (source.pk, keyword_normalize(pattern))
            if key in seen:
                errors.append(
                    f"Keyword “{key[1]}” is used twice from state “{source.name}”: "
                    "keep one transition per keyword."
                )
            seen.add(key)
        if errors:
            raise ValidationError(errors)
        if self._is_last():
            problems = self._structure_problems()
            if problems:
                raise ValidationError(problems)
