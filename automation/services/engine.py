"""The journey engine: routing one reply. Owner: engine (issue 3).

All functions run inside the caller's transaction with the contact row already locked
(lock order everywhere: contact, then enrollment). No network I/O: messages are queued
with messaging.services.outbound_queue, which sends on commit.

Routing of one reply (DESIGN §3; compliance keywords were handled by the caller):
1. a transition out of the current state of one of the contact's active enrollments
   (the enrollment whose state was entered last is asked first; priority order);
2. else another active plan's entry keyword: enroll, ending the current enrollments as
   ``exited`` unless that plan says it does not interrupt;
3. else, when the contact has no active enrollment at all, a catch-all plan (entry
   trigger "any message") it may (re-)enter: enroll in the oldest such plan;
4. else the current state's fallback text, at most once per state entered.
"""

import functools
import logging
from datetime import datetime

from django.db import connection

from automation.graph import PlanGraph, entry_graphs, graph_token, plan_entry_keywords, plan_graphs
from automation.matching import transition_matches
from automation.models import Enrollment, EnrollmentStep, Plan, PlanGraphStamp, PlanState
from automation.services.enrollments import (
    enrollment_end,
    enrollment_enter_state,
    enrollment_start,
    enrollment_text_queue,
)
from contacts.models import Contact
from tracking.models import Interaction

logger = logging.getLogger(__name__)

Status = Enrollment.Status
_CONTACT, _PLAN, _CURRENT_STATE = (
    Enrollment._meta.get_field(n) for n in ("contact", "plan", "current_state")
)
Via = EnrollmentStep.Via


def enrollment_route(
    *, contact: Contact, interaction: Interaction, normalized: str, token: int | None = None
) -> None:
    """Route one inbound (non-compliance) reply: a transition of an active enrollment,
    else another plan's entry keyword, else a catch-all entry, else the state's fallback.

    The plans' graph comes from the per-process cache (automation.graph), checked against
    the graph stamp's token read with the enrollments; `token`: the token the caller read
    in this transaction already (used when the contact has no active enrollment; read
    here when not given)."""
    now = interaction.created_at
    enrollments, enrollments_token, graphs = _active_enrollments_locked(contact=contact)
    for enrollment in enrollments:
        _reply_touch(enrollment=enrollment, now=now)

    handled = _route_transition(
        enrollments=enrollments, interaction=interaction, normalized=normalized, graphs=graphs
    )
    if handled is None:
        handled = _route_entry(
            contact=contact,
            interaction=interaction,
            normalized=normalized,
            enrollments=enrollments,
            token=enrollments_token if enrollments else (token if token is not None else graph_token()),
        )
    if handled is None and enrollments:
        handled = _route_fallback(enrollment=enrollments[0], interaction=interaction)
    # Every active enrollment heard from the contact (timeouts measure silence).
    for enrollment in enrollments:
        if enrollment is not handled and enrollment.status == Status.ACTIVE:
            enrollment.save(update_fields=["last_inbound_at", "timeout_at"])


def _active_enrollments_locked(
    *, contact: Contact
) -> tuple[list[Enrollment], int | None, dict[int, PlanGraph]]:
    """The contact's active enrollments, locked, the one whose state was entered last
    first, with their plan and current state from the graph cache; the graph stamp's
    token (read in the same query) and the graphs of their plans."""
    enrollments, token = _active_enrollments_select(contact_id=contact.pk)
    if not enrollments:
        return [], None, {}
    graphs = plan_graphs(plan_ids={e.plan_id for e in enrollments}, token=token)
    for enrollment in enrollments:
        graph = graphs[enrollment.plan_id]
        state = graph.states.get(enrollment.current_state_id)
        if state is None:  # not a state of its plan: never expected, read it as before
            state = PlanState.objects.select_related("plan", "message", "goal").get(
                pk=enrollment.current_state_id
            )
        # The ids are set already: only the related objects are attached (no query).
        _CONTACT.set_cached_value(enrollment, contact)  # the locked instance
        _PLAN.set_cached_value(enrollment, graph.plan)
        _CURRENT_STATE.set_cached_value(enrollment, state)
    return enrollments, token, graphs


@functools.cache
def _active_enrollments_sql(vendor: str) -> str:
    """``SELECT … FOR UPDATE`` of a contact's active enrollments, newest state first, with
    the graph stamp's token as a scalar subquery: built once (the ORM would compile it
    per message)."""
    meta = Enrollment._meta
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in meta.concrete_fields)
    stamp = PlanGraphStamp._meta
    column = qn(meta.get_field("contact").column)
    status, entered, pk = (qn(meta.get_field(n).column) for n in ("status", "state_entered_at", "id"))
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    # Identifiers come from the models and are quoted; values are parameters.
    sql = (
        f"SELECT {columns}, "  # noqa: S608
        f"(SELECT {qn('token')} FROM {qn(stamp.db_table)} WHERE {qn('id')} = 1) AS graph_token "
        f"FROM {qn(meta.db_table)} WHERE {column} = %s AND {status} = %s "
        f"ORDER BY {entered} DESC, {pk} DESC{lock}"
    )
    return sql


def _active_enrollments_select(*, contact_id: int) -> tuple[list[Enrollment], int | None]:
    sql = _active_enrollments_sql(connection.vendor)
    enrollments = list(Enrollment.objects.raw(sql, [contact_id, Status.ACTIVE.value]))
    if not enrollments:
        return [], None
    return enrollments, enrollments[0].graph_token


def _reply_touch(*, enrollment: Enrollment, now: datetime) -> None:
    """The contact spoke: remember it, and push a running reply timeout on."""
    enrollment.last_inbound_at = now
    timeout = enrollment.current_state.timeout
    if enrollment.timeout_at is not None and timeout:
        enrollment.timeout_at = max(enrollment.timeout_at, now + timeout)


def _route_transition(
    *, enrollments: list[Enrollment], interaction: Interaction, normalized: str, graphs: dict[int, PlanGraph]
) -> Enrollment | None:
    for enrollment in enrollments:
        graph = graphs[enrollment.plan_id]
        for transition in graph.transitions_from.get(enrollment.current_state_id, ()):
            if transition_matches(
                match=transition.match, pattern=transition.pattern, normalized_reply=normalized
            ):
                enrollment_enter_state(
                    enrollment=enrollment,
                    state=transition.to_state,
                    via=Via.REPLY,
                    interaction=interaction,
                    transition=transition,
                )
                return enrollment
    return None


def _route_entry(
    *,
    contact: Contact,
    interaction: Interaction,
    normalized: str,
    enrollments: list[Enrollment],
    token: int | None,
) -> Enrollment | None:
    """An entry keyword of another plan, else a catch-all plan."""
    active_plan_ids = {e.plan_id for e in enrollments}
    starts = [g for g in entry_graphs(token=token) if g.plan.pk not in active_plan_ids]
    by_keyword = [
        g
        for g in starts
        if g.plan.entry_trigger == Plan.EntryTrigger.KEYWORD and normalized in g.entry_keywords
    ]
    catch_all = [g for g in starts if g.plan.entry_trigger == Plan.EntryTrigger.ANY]
    for graph in by_keyword:
        plan = graph.plan
        if _may_enter(contact=contact, plan=plan):
            if plan.interrupts_other_plans:
                for enrollment in enrollments:
                    enrollment_end(
                        enrollment=enrollment,
                        status=Status.EXITED,
                        reason=f"Interrupted by the entry keyword {normalized} of {plan.slug}",
                    )
            return enrollment_start(
                contact=contact, plan=plan, interaction=interaction, start_state=graph.start
            )
    # A catch-all plan takes messages that belong to no conversation: a contact in the
    # middle of a journey gets that state's fallback, not a second journey.
    for graph in [] if enrollments else catch_all:
        if _may_enter(contact=contact, plan=graph.plan):
            return enrollment_start(
                contact=contact, plan=graph.plan, interaction=interaction, start_state=graph.start
            )
    return None


def _may_enter(*, contact: Contact, plan: Plan) -> bool:
    """Re-entry policy (the caller has checked there is no active enrollment in `plan`)."""
    if plan.reentry == Plan.Reentry.NEVER:
        return not Enrollment.objects.filter(contact=contact, plan=plan).exists()
    return True


def _route_fallback(*, enrollment: Enrollment, interaction: Interaction) -> Enrollment | None:
    state = enrollment.current_state
    if not state.fallback_text.strip() or enrollment.fallback_sent:
        return None
    enrollment.fallback_sent = True
    enrollment.save(update_fields=["fallback_sent", "last_inbound_at", "timeout_at"])
    enrollment_text_queue(
        enrollment=enrollment,
        template=state.fallback_text,
        purpose="fallback",
        answers_contact=True,
        state=state,
    )
    return enrollment


__all__ = ["enrollment_route", "plan_entry_keywords"]
