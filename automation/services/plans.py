"""Plan authoring services. Owner: admin (issue 2).

The checks a plan must pass to work are written once, over plain specs
(`StateSpec`, `TransitionSpec`), so that they judge both a saved plan
(`plan_validate`) and the unsaved data of the admin's plan page (its inline formsets).
"""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django_fsm import TransitionNotAllowed

from automation.matching import is_single_word, keyword_normalize, regex_problem
from automation.models import Plan, PlanState, Transition
from contacts.compliance import RESERVED_KEYWORDS
from messaging.models import SmsMessage
from messaging.preview import sms_template_error

# Matches whose pattern is a single keyword.
WORD_MATCHES = {Transition.Match.KEYWORD, Transition.Match.FIRST_WORD, Transition.Match.CONTAINS}


class PlanInvalid(ValidationError):
    """The plan cannot work; `.messages` say what to fix."""


@dataclass
class StateSpec:
    key: Any  # the state's pk, or any unique marker for an unsaved one
    name: str
    plan_id: int | None = None
    is_start: bool = False
    is_final: bool = False
    message: SmsMessage | None = None
    fallback_text: str = ""
    timeout: timedelta | None = None
    timeout_to: Any = None  # key of the target state
    timeout_to_plan_id: int | None = None
    timeout_to_name: str = ""


@dataclass
class TransitionSpec:
    from_key: Any
    to_key: Any
    match: str
    pattern: str = ""
    from_name: str = ""
    to_name: str = ""
    from_plan_id: int | None = None
    to_plan_id: int | None = None


@dataclass
class PlanSpec:
    plan_id: int | None
    name: str = ""
    entry_trigger: str = Plan.EntryTrigger.KEYWORD
    entry_keywords: str = ""
    states: list[StateSpec] = field(default_factory=list)
    transitions: list[TransitionSpec] = field(default_factory=list)


# --- single-row rules (also used by the admin's inline forms) --------------------------


def entry_keywords_split(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def keyword_errors(*, word: str, what: str) -> list[str]:
    """Why `word` cannot be a plan keyword (`what` names it in the message)."""
    if not is_single_word(word):
        return [f"{what} “{word}” must be a single word (no spaces), e.g. QUOTE."]
    normalized = keyword_normalize(word)
    if normalized in RESERVED_KEYWORDS:
        return [
            f"{what} “{word}” is a compliance word ({normalized} always means opt-out or help): "
            "choose another word."
        ]
    return []


def entry_keywords_errors(*, entry_trigger: str, entry_keywords: str) -> list[str]:
    words = entry_keywords_split(entry_keywords)
    errors = [e for w in words for e in keyword_errors(word=w, what="Entry keyword")]
    if entry_trigger == Plan.EntryTrigger.KEYWORD and not words:
        errors.append(
            "The plan is entered by keyword but has no entry keywords: add at least one, e.g. JOIN."
        )
    return errors


def transition_pattern_errors(*, match: str, pattern: str) -> list[str]:
    """What is wrong with one transition's match rule on its own."""
    if match in WORD_MATCHES:
        if not (pattern or "").strip():
            return ["Enter the keyword this transition waits for."]
        return keyword_errors(word=pattern, what="Keyword")
    if match == Transition.Match.REGEX:
        if not (pattern or "").strip():
            return ["Enter the regular expression this transition waits for."]
        problem = regex_problem(pattern)
        if problem:
            return [problem]
    return []


def state_text_errors(*, name: str, message: SmsMessage | None, fallback_text: str) -> list[str]:
    """Templates of one state that do not render for a sample contact."""
    errors = []
    if message is not None:
        error = sms_template_error(template=message.body)
        if error:
            errors.append(f"State “{name}”: its SMS message “{message.name}” does not render. {error}")
    if fallback_text:
        error = sms_template_error(template=fallback_text)
        if error:
            errors.append(f"State “{name}”: its fallback text does not render. {error}")
    return errors


# --- whole-plan rules ------------------------------------------------------------------


def state_row_errors(
    *,
    name: str,
    message: SmsMessage | None,
    fallback_text: str,
    timeout: timedelta | None,
    has_timeout_to: bool,
) -> list[str]:
    """What is wrong with one state on its own: its texts and its timeout."""
    errors = state_text_errors(name=name, message=message, fallback_text=fallback_text)
    if timeout is not None and not has_timeout_to:
        errors.append(f"State “{name}” has a timeout but no state to go to: set “timeout to” too.")
    if timeout is None and has_timeout_to:
        errors.append(f"State “{name}” has a “timeout to” state but no timeout: set how long to wait.")
    if timeout is not None and timeout <= timedelta(0):
        errors.append(f"State “{name}”: the timeout must be longer than zero.")
    return errors


def _foreign(key: Any, plan_id: int | None, *, spec: PlanSpec, by_key: dict) -> bool:
    return key not in by_key or bool(plan_id and spec.plan_id and plan_id != spec.plan_id)


def plan_structure_problems(*, spec: PlanSpec) -> list[str]:
    """Whether the states and transitions make a journey: one start, every state of this
    plan, and a way forward from every state that is not final."""
    problems: list[str] = []
    starts = [s for s in spec.states if s.is_start]
    if not starts:
        problems.append("The plan has no start state: tick “is start” on the state new enrollments begin in.")
    elif len(starts) > 1:
        names = ", ".join(f"“{s.name}”" for s in starts)
        problems.append(f"The plan has more than one start state ({names}): keep exactly one.")

    by_key = {s.key: s for s in spec.states}
    outgoing: set[Any] = set()
    for t in spec.transitions:
        label = f"The transition {t.from_name} → {t.to_name}"
        if _foreign(t.from_key, t.from_plan_id, spec=spec, by_key=by_key):
            problems.append(
                f"{label} starts from “{t.from_name}”, which is not a state of this plan: "
                "pick one of this plan's states."
            )
        if _foreign(t.to_key, t.to_plan_id, spec=spec, by_key=by_key):
            problems.append(
                f"{label} leads to “{t.to_name}”, which is not a state of this plan: "
                "pick one of this plan's states."
            )
        outgoing.add(t.from_key)
    for s in spec.states:
        if s.timeout_to is not None and _foreign(
            s.timeout_to, s.timeout_to_plan_id, spec=spec, by_key=by_key
        ):
            problems.append(
                f"State “{s.name}” times out into “{s.timeout_to_name}”, which is not a state of this plan: "
                "pick one of this plan's states."
            )
        has_timeout = s.timeout is not None and s.timeout_to is not None
        if not s.is_final and s.key not in outgoing and not has_timeout:
            problems.append(
                f"State “{s.name}” has no way forward: add a transition out of it, a timeout, "
                "or tick “is final”."
            )
    return problems


def duplicate_keyword_problems(*, transitions: list[TransitionSpec]) -> list[str]:
    """A keyword used twice from one state: the second transition could never fire."""
    problems = []
    seen: set[tuple[Any, str]] = set()
    for t in transitions:
        if t.match not in WORD_MATCHES or not is_single_word(t.pattern):
            continue
        key = (t.from_key, keyword_normalize(t.pattern))
        if key in seen:
            problems.append(
                f"Keyword “{key[1]}” is used twice from state “{t.from_name}”: "
                "keep one transition per keyword."
            )
        seen.add(key)
    return problems


def plan_spec_problems(*, spec: PlanSpec) -> list[str]:
    """Every rule a plan must satisfy to work, over specs (saved or not)."""
    problems = entry_keywords_errors(entry_trigger=spec.entry_trigger, entry_keywords=spec.entry_keywords)
    problems += plan_structure_problems(spec=spec)
    problems += duplicate_keyword_problems(transitions=spec.transitions)
    for t in spec.transitions:
        problems += [
            f"The transition {t.from_name} → {t.to_name}: {e}"
            for e in transition_pattern_errors(match=t.match, pattern=t.pattern)
        ]
    for s in spec.states:
        problems += state_row_errors(
            name=s.name,
            message=s.message,
            fallback_text=s.fallback_text,
            timeout=s.timeout,
            has_timeout_to=s.timeout_to is not None,
        )
    return problems


def plan_spec_from_db(*, plan: Plan) -> PlanSpec:
    states = list(PlanState.objects.filter(plan=plan).select_related("message", "timeout_to"))
    transitions = list(
        Transition.objects.filter(plan=plan)
        .select_related("from_state", "to_state")
        .order_by("priority", "id")
    )
    return PlanSpec(
        plan_id=plan.pk,
        name=plan.name,
        entry_trigger=plan.entry_trigger,
        entry_keywords=plan.entry_keywords,
        states=[
            StateSpec(
                key=s.pk,
                name=s.name,
                plan_id=s.plan_id,
                is_start=s.is_start,
                is_final=s.is_final,
                message=s.message,
                fallback_text=s.fallback_text,
                timeout=s.timeout,
                timeout_to=s.timeout_to_id,
                timeout_to_plan_id=s.timeout_to.plan_id if s.timeout_to else None,
                timeout_to_name=s.timeout_to.name if s.timeout_to else "",
            )
            for s in states
        ],
        transitions=[
            TransitionSpec(
                from_key=t.from_state_id,
                to_key=t.to_state_id,
                match=t.match,
                pattern=t.pattern,
                from_name=t.from_state.name,
                to_name=t.to_state.name,
                from_plan_id=t.from_state.plan_id,
                to_plan_id=t.to_state.plan_id,
            )
            for t in transitions
        ],
    )


def plan_validate(*, plan: Plan) -> list[str]:
    """Everything that keeps `plan` from working, as sentences that say what to fix."""
    return plan_spec_problems(spec=plan_spec_from_db(plan=plan))


# --- lifecycle ---------------------------------------------------------------------------


def _locked(plan: Plan) -> Plan:
    return Plan.objects.select_for_update().get(pk=plan.pk)


def _not_allowed(plan: Plan, verb: str) -> PlanInvalid:
    return PlanInvalid(f"A plan that is {plan.get_status_display().lower()} cannot be {verb}.")


def _plan_transition(plan: Plan, name: str, verb: str) -> Plan:
    """Apply the plan FSM's transition `name` (activate, pause, archive) and save it."""
    try:
        getattr(plan, name)()
    except TransitionNotAllowed as exc:
        raise _not_allowed(plan, verb) from exc
    plan.save(update_fields=["status", "updated_at"])
    return plan


@transaction.atomic
def plan_activate(*, plan: Plan) -> Plan:
    """Validate, then activate (draft or paused → active). Raises PlanInvalid saying what to fix."""
    plan = _locked(plan)
    if plan.status in (Plan.Status.ARCHIVED, Plan.Status.ACTIVE):
        raise _not_allowed(plan, "activated")
    problems = plan_validate(plan=plan)
    if problems:
        raise PlanInvalid(["The plan cannot be activated until this is fixed:", *problems])
    return _plan_transition(plan, "activate", "activated")


@transaction.atomic
def plan_pause(*, plan: Plan) -> Plan:
    """Active → paused: no new enrollments (the engine's rule); existing ones stay."""
    return _plan_transition(_locked(plan), "pause", "paused")


@transaction.atomic
def plan_archive(*, plan: Plan) -> Plan:
    """Draft, active or paused → archived: for good; existing enrollments stay."""
    return _plan_transition(_locked(plan), "archive", "archived")


# --- the demo plan (CONTRACT §4): automation.services.demo_plan ------------------------


def plan_load_demo() -> Plan:
    """Create or update the `quote-and-buy` demo plan exactly as CONTRACT §4 says (idempotent)."""
    from automation.services.demo_plan import plan_load_demo_with_summary

    return plan_load_demo_with_summary().plan
