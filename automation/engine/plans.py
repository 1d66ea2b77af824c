"""Plans as data (docs/reference.md §6): import, export, drafts, publishing, rollback, lifecycle.

A plan's behaviour lives in its revisions. Publishing makes the draft (or an imported
document) the next revision new enrollments take; a published revision never changes,
and an enrollment stays on the revision it started in. Every write here validates the
whole document first (``automation.flow.flow_read``) and changes nothing when it is
refused."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from automation.flow import KINDS, FlowInvalid, Problem, flow_read
from automation.flow.document import step_data
from automation.models import HttpSecret, Plan, PlanRevision
from infra.strict_json import JsonRefused, json_strict_parse
from messaging.senders import sender_of_address
from tracking.models import Goal

MAX_DOCUMENT_BYTES = 1024 * 1024


class PlanInvalid(ValidationError):
    """The plan cannot work; `.messages` say what to fix."""


@dataclass
class ImportResult:
    plan: Plan
    revision: PlanRevision | None  # None: the content was unchanged
    published: bool


def document_load(text: str | bytes) -> Any:
    """Parse a plan document's JSON (strictly: ``infra.strict_json``; what it holds is
    `flow_read`'s to judge); FlowInvalid (one problem) when it is not JSON."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise FlowInvalid([Problem(None, "", f"the document is larger than {MAX_DOCUMENT_BYTES:,} bytes")])
    try:
        return json_strict_parse(text)
    except JsonRefused as exc:
        raise FlowInvalid([Problem(None, "", f"not JSON: {exc}")]) from exc


def document_dump(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def plan_document_check(document: Any) -> dict:
    """The document's normal form; FlowInvalid with every problem otherwise."""
    normal, problems = flow_read(document)
    if problems:
        raise FlowInvalid(problems.items)
    return normal


# --- import, drafts, publishing -------------------------------------------------------------


@transaction.atomic
def plan_import(*, document: Any, draft: bool = False, user=None) -> ImportResult:
    """Create the plan of `document`, or a new revision of it when its slug exists and the
    content differs; publish it unless `draft`. Unchanged content makes no revision.
    Goals the document lists and the database lacks are created. FlowInvalid (nothing
    changed) when the document is refused."""
    normal = plan_document_check(document)
    plan = Plan.objects.select_for_update().filter(slug=normal["slug"]).first()
    if plan is None:
        plan = Plan.objects.create(
            slug=normal["slug"], name=normal["name"], description=normal["description"]
        )
    newest = plan.revisions.order_by("-number").first()
    if newest is not None and newest.document == normal:
        if newest.published_at is None and not draft:
            revision = plan_publish(plan=plan, user=user)
            return ImportResult(plan=_fresh(plan), revision=revision, published=True)
        return ImportResult(plan=plan, revision=None, published=False)
    revision = plan_draft_save(plan=plan, document=normal, user=user)
    if draft:
        return ImportResult(plan=plan, revision=revision, published=False)
    revision = plan_publish(plan=plan, user=user)
    return ImportResult(plan=_fresh(plan), revision=revision, published=True)


def _fresh(plan: Plan) -> Plan:
    """The plan as publishing left it (its status is a protected field: read it again)."""
    return Plan.objects.select_related("published").get(pk=plan.pk)


def plan_draft_save(*, plan: Plan, document: Any, user=None, note: str = "") -> PlanRevision:
    """Write `document` as the plan's draft (its one unpublished revision), created when
    there is none and the document differs from the newest revision. FlowInvalid when
    refused; the slug must stay the plan's."""
    normal = plan_document_check(document)
    if normal["slug"] != plan.slug:
        raise FlowInvalid(
            [Problem(None, "slug", f"{normal['slug']!r} is not this plan's slug {plan.slug!r}")]
        )
    goals_ensure(goals=normal["goals"])
    newest = plan.revisions.order_by("-number").first()
    if newest is not None and newest.published_at is not None and newest.document == normal:
        return newest  # nothing to draft: it is what is published
    draft = newest if newest is not None and newest.published_at is None else None
    if draft is not None:
        draft.document = normal
        draft.note = note or draft.note
        draft.save(update_fields=["document", "note"])
        return draft
    number = (plan.revisions.aggregate(n=Max("number"))["n"] or 0) + 1
    return PlanRevision.objects.create(plan=plan, number=number, document=normal, created_by=user, note=note)


@transaction.atomic
def plan_publish(*, plan: Plan, user=None) -> PlanRevision:
    """Publish the plan's draft: it becomes the revision new enrollments take (and never
    changes again). A plan still in draft becomes active. PlanInvalid when there is no
    draft or it no longer validates (a goal or plan it names changed meanwhile)."""
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    draft = plan.revisions.filter(published_at__isnull=True).first()
    if draft is None:
        raise PlanInvalid("There is no draft to publish: edit the plan first.")
    try:
        normal = plan_document_check(draft.document)
    except FlowInvalid as exc:
        raise PlanInvalid(
            ["The draft cannot be published until this is fixed:", *map(str, exc.problems)]
        ) from exc
    draft.published_at = timezone.now()
    draft.published_by = user
    draft.save(update_fields=["published_at", "published_by"])
    plan.published = draft
    plan.name = normal["name"]
    plan.description = normal["description"]
    plan.save(update_fields=["published", "name", "description", "updated_at"])
    if normal["entry"].get("sender"):
        # A plan bound to a sender: that address is one from now on (docs/reference.md §8).
        sender_of_address(normal["entry"]["sender"], create=True)
    if plan.status == Plan.Status.DRAFT:
        Plan.objects.filter(pk=plan.pk).update(status=Plan.Status.ACTIVE)
    return draft


@transaction.atomic
def plan_rollback(*, plan: Plan, revision: PlanRevision, user=None) -> PlanRevision:
    """Publish the content of an earlier `revision` again, as the next revision."""
    if revision.plan_id != plan.pk:
        raise PlanInvalid("That revision belongs to another plan.")
    saved = plan_draft_save(
        plan=plan, document=revision.document, user=user, note=f"Rolled back to revision {revision.number}."
    )
    if saved.published_at is not None:
        raise PlanInvalid(f"Revision {revision.number} says what the published revision says already.")
    return plan_publish(plan=plan, user=user)


# --- warnings: what may be a mistake in a plan that works ------------------------------------


def plans_warnings(*, plans: list[Plan]) -> dict[int, list[str]]:
    """`plan_warnings` of each plan's published revision (the dashboard's "needs
    attention"): three queries whatever the number of plans (their documents, the active
    plans' entries, the secrets kept)."""
    from automation.engine.revisions import entry_flows

    published = PlanRevision.objects.filter(pk__in=[p.published_id for p in plans if p.published_id])
    documents = dict(published.values_list("pk", "document"))
    entries = entry_flows()
    kept = set(HttpSecret.objects.values_list("name", flat=True))
    return {
        p.pk: plan_warnings(plan=p, document=documents[p.published_id], entries=entries, secrets=kept)
        for p in plans
        if p.published_id in documents
    }


def plan_warnings(
    *, plan: Plan | None, document: dict, entries=None, secrets: set | None = None
) -> list[str]:
    """In a marketer's words: the document's own warnings (`flow_warnings`), and an entry
    that another active plan answers too (the older plan takes the contact). `entries`
    (`entry_flows()`) and `secrets` (the names kept) are read here unless given."""
    from automation.engine.revisions import entry_flows
    from automation.flow.matching import keyword_normalize
    from automation.flow.warnings import first_text, flow_warnings
    from messaging.program_texts import program_text_missing

    names = {s["id"]: s.get("name") or s["id"] for s in document.get("steps", ())}
    out = [problem.say(names) for problem in flow_warnings(document)]
    step_id, text = first_text(document)
    missing = program_text_missing(text, program=document.get("name", "")) if step_id else []
    if missing:
        out.append(
            f"“{names[step_id]}” sends the plan's first message, which carriers audit; it lacks "
            + ", ".join(missing)
            + "."
        )
    out += program_settings_warnings()
    out += _secrets_missing(document, names, kept=secrets)
    entry = document.get("entry") or {}
    mine = {keyword_normalize(w) for w in entry.get("keywords", ())}
    entries = entry_flows() if entries is None else entries
    others = [(pid, flow) for pid, _, flow in entries if plan is None or pid != plan.pk]
    for _, flow in others:
        if entry.get("sender") not in (None, flow.entry.sender) and flow.entry.sender is not None:
            continue
        if entry.get("trigger") == "keyword" and flow.entry.trigger == "keyword":
            shared = sorted(mine & flow.entry.keywords)
            if shared:
                out.append(
                    f"The keyword {', '.join(shared)} also enters the active plan “{flow.name}”: "
                    "a contact who texts it enters the older of the two plans only."
                )
        elif entry.get("trigger") == "any" and flow.entry.trigger == "any":
            out.append(
                f"The active plan “{flow.name}” also takes any message: a contact in no journey "
                "enters the older of the two plans only."
            )
    return out


def _secrets_missing(document: dict, names: dict[str, str], *, kept: set | None = None) -> list[str]:
    """A web service secret a step names that this server does not keep (a plan imported
    from elsewhere, a secret renamed): that step's call fails until an admin adds it."""
    wanted = [
        (step["id"], where, name)
        for step in document.get("steps", ())
        if step.get("type") in KINDS
        for where, name in KINDS[step["type"]].secrets(step_data(step))
    ]
    if kept is None:
        kept = set(
            HttpSecret.objects.filter(name__in={n for _, _, n in wanted}).values_list("name", flat=True)
        )
    return [
        f"“{names[step_id]}” sends the web service secret “{name}” ({where}), which is not set here: "
        "until an admin adds it under Web service secrets, the call fails."
        for step_id, where, name in wanted
        if name not in kept
    ]


def program_settings_warnings() -> list[str]:
    """The configured texts carriers audit (the HELP answer, the opt-in confirmation), and
    what each lacks."""
    from django.conf import settings

    from messaging.program_texts import program_text_missing

    out = []
    for name, said in (
        ("SMS_HELP_TEXT", "The HELP answer"),
        ("SMS_OPT_IN_CONFIRMATION", "The opt-in confirmation"),
    ):
        text = getattr(settings, name)
        missing = program_text_missing(text) if text else []
        if missing:
            out.append(f"{said} ({name}), which carriers audit, lacks " + ", ".join(missing) + ".")
    return out


# --- the step editor: one step at a time, the whole plan checked each time ---------------------


def plan_draft_document(*, plan: Plan) -> dict | None:
    """What the plan's editor shows: its draft, else its newest revision (None: none yet)."""
    revision = plan.revisions.order_by("-number").first()
    return revision.document if revision else None


def plan_step_save(
    *,
    plan: Plan,
    step: dict,
    replaces: str | None = None,
    after: tuple[str, str] | None = None,
    user=None,
) -> PlanRevision:
    """Write one step into the draft: a new one (connected from exit `after` = (step id,
    exit field) when given) or step `replaces` (its exits and the start follow a new id).
    FlowInvalid, nothing changed, when the plan would not work."""
    from automation.flow.edit import step_insert, step_replace

    document = plan_draft_document(plan=plan)
    if replaces is not None:
        document = step_replace(document, replaces, step)
    else:
        document = step_insert(document, step, after=after)
    return plan_draft_save(plan=plan, document=document, user=user)


def plan_step_delete(*, plan: Plan, step_id: str, user=None) -> PlanRevision:
    """Take a step out of the draft; exits to it end the journey instead. FlowInvalid when
    that leaves the plan unable to work (its start, or steps only it led to)."""
    from automation.flow.edit import step_remove

    return plan_draft_save(
        plan=plan, document=step_remove(plan_draft_document(plan=plan), step_id), user=user
    )


def goals_ensure(*, goals: list[dict], update: bool = False) -> None:
    """Create the goals a document lists and the database lacks (by slug); with `update`,
    also bring existing ones' name and points in line (the demo plan)."""
    for goal in goals:
        existing = Goal.objects.filter(slug=goal["slug"]).first()
        if existing is None:
            name = goal["name"]
            if Goal.objects.filter(name=name).exists():
                name = f"{name} ({goal['slug']})"[:100]
            try:
                with transaction.atomic():
                    Goal.objects.create(slug=goal["slug"], name=name, points=goal["points"])
            except IntegrityError:
                pass  # created meanwhile
        elif update and (existing.name, existing.points) != (goal["name"], goal["points"]):
            if not Goal.objects.filter(name=goal["name"]).exclude(pk=existing.pk).exists():
                existing.name = goal["name"]
            existing.points = goal["points"]
            existing.save(update_fields=["name", "points"])


def plan_export(*, plan: Plan, number: int | None = None) -> dict:
    """The plan's document: its latest revision (a draft included), or revision `number`.
    PlanRevision.DoesNotExist when there is none."""
    revisions = plan.revisions.all()
    if number is not None:
        return revisions.get(number=number).document
    revision = revisions.order_by("-number").first()
    if revision is None:
        raise PlanRevision.DoesNotExist(f"{plan.slug} has no revision yet.")
    return revision.document


# --- lifecycle ---------------------------------------------------------------------------------


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
    """Draft or paused → active, once a revision is published."""
    plan = _locked(plan)
    if plan.status in (Plan.Status.ARCHIVED, Plan.Status.ACTIVE):
        raise _not_allowed(plan, "activated")
    if plan.published_id is None:
        raise PlanInvalid("The plan cannot be activated before a revision is published: publish the draft.")
    return _plan_transition(plan, "activate", "activated")


@transaction.atomic
def plan_pause(*, plan: Plan) -> Plan:
    """Active → paused: no new enrollments (the engine's rule); existing ones go on."""
    return _plan_transition(_locked(plan), "pause", "paused")


@transaction.atomic
def plan_archive(*, plan: Plan) -> Plan:
    """Draft, active or paused → archived: for good; existing enrollments go on."""
    return _plan_transition(_locked(plan), "archive", "archived")


def plan_load_demo() -> Plan:
    """Create or update the `quote-and-buy` demo plan exactly as docs/reference.md §4 says (idempotent)."""
    from automation.engine.demo_plan import plan_load_demo_with_summary

    return plan_load_demo_with_summary().plan
