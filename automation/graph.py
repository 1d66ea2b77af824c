"""A per-process cache of the journey graph, for routing inbound messages.

Routing a reply needs the plan's states, transitions, SMS message types and goals; they
change only when a marketer edits a plan, and reading them costs each message a query
with joins and most of its CPU. So each process keeps a copy, valid while the
*graph stamp* it was built under is the database's: ``PlanGraphStamp.token`` is
rewritten by database triggers (migration ``automation.0004_plan_graph_version``) in
the same transaction as any write to a plan, state, transition, message type or goal —
from the admin, a service, ``QuerySet.update()``, ``loaddata`` or SQL. The engine reads
the token in the statement that claims the message and with the enrollment rows it
locks anyway, so an edit
is seen by the very next message in every process.

Read committed: the token is read first, the graph after, so a copy is never older than
its token (it may be newer, which is harmless: the next token reloads it). A token read
inside a transaction that rolls back is never seen again (PostgreSQL takes it from a
sequence, SQLite from a 64-bit random number). No stamp row (a test flush) or a database
without the triggers: nothing is cached, the graph is read afresh each time.

The cached model instances are shared between requests: callers must treat them as
read-only (the engine only reads them and assigns them to foreign keys).
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass, field

from django.db import connection

from automation.matching import keyword_normalize
from automation.models import Plan, PlanGraphStamp, PlanState, Transition
from messaging.models import SmsMessage
from tracking.models import Goal

_KEYWORD_SPLIT = re.compile(r"[,;\s]+")
_VENDORS_WITH_TRIGGERS = {"postgresql", "sqlite"}


@dataclass
class PlanGraph:
    """One plan as routing sees it."""

    plan: Plan
    states: dict[int, PlanState] = field(default_factory=dict)
    # Transitions out of each state into a state of the same plan, in priority order.
    transitions_from: dict[int, list[Transition]] = field(default_factory=dict)
    start: PlanState | None = None
    entry_keywords: frozenset[str] = frozenset()


@dataclass
class _Snapshot:
    token: int | None
    plans: dict[int, PlanGraph] = field(default_factory=dict)
    entry: list[PlanGraph] | None = None


_lock = threading.Lock()
_snapshot = _Snapshot(token=None)


def plan_entry_keywords(plan: Plan) -> frozenset[str]:
    """A plan's entry keywords in the normalised form replies are compared with."""
    words = (keyword_normalize(w) for w in _KEYWORD_SPLIT.split(plan.entry_keywords or ""))
    return frozenset(k for k in words if k)


def graph_token() -> int | None:
    """The stamp's token (one small query, its SQL built once); None when there is none."""
    with connection.cursor() as cursor:
        cursor.execute(_graph_token_sql(connection.vendor))
        row = cursor.fetchone()
    return row[0] if row else None


@functools.cache
def _graph_token_sql(vendor: str) -> str:
    meta = PlanGraphStamp._meta
    qn = connection.ops.quote_name
    token, pk = (qn(meta.get_field(n).column) for n in ("token", "id"))
    return f"SELECT {token} FROM {qn(meta.db_table)} WHERE {pk} = 1"  # noqa: S608


def _cacheable(token: int | None) -> bool:
    return token is not None and connection.vendor in _VENDORS_WITH_TRIGGERS


def _snapshot_for(token: int | None) -> _Snapshot:
    """The snapshot for `token`, emptied when the token moved; a throw-away one when
    nothing may be cached."""
    global _snapshot
    if not _cacheable(token):
        return _Snapshot(token=None)
    snap = _snapshot
    if snap.token != token:
        with _lock:
            if _snapshot.token != token:
                _snapshot = _Snapshot(token=token)
            snap = _snapshot
    return snap


def _columns(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


# One row per (state, transition out of it): the state with its plan, message type and
# goal, and the transition with its goal (LEFT JOINs: NULLs where there is none).
_PARTS = [
    ("", PlanState),
    ("plan__", Plan),
    ("message__", SmsMessage),
    ("goal__", Goal),
    ("transitions_out__", Transition),
    ("transitions_out__goal__", Goal),
]


def _graphs_load(**state_filter) -> dict[int, PlanGraph]:
    """Read the graphs of the plans whose states match `state_filter`, in ONE query (a
    cold cache costs a reply one query more, not three)."""
    parts = [(prefix, model, _columns(model)) for prefix, model in _PARTS]
    paths = [prefix + column for prefix, _, columns in parts for column in columns]
    rows = (
        PlanState.objects.filter(**state_filter)
        .order_by("plan_id", "transitions_out__priority", "transitions_out__id")
        .values_list(*paths)
    )
    db = rows.db
    graphs: dict[int, PlanGraph] = {}
    states: dict[int, PlanState] = {}
    messages: dict[int, SmsMessage] = {}
    goals: dict[int, Goal] = {}
    pending: list[Transition] = []
    for row in rows:
        values, at = [], 0
        for _, _, columns in parts:
            values.append(row[at : at + len(columns)])
            at += len(columns)
        state_row, plan_row, message_row, goal_row, transition_row, transition_goal_row = values
        state = states.get(state_row[0])
        if state is None:
            graph = graphs.get(plan_row[0])
            if graph is None:
                graph = graphs[plan_row[0]] = PlanGraph(plan=Plan.from_db(db, parts[1][2], plan_row))
            state = states[state_row[0]] = PlanState.from_db(db, parts[0][2], state_row)
            PlanState.plan.field.set_cached_value(state, graph.plan)
            PlanState.message.field.set_cached_value(
                state, _shared(messages, SmsMessage, db, parts[2][2], message_row)
            )
            PlanState.goal.field.set_cached_value(state, _shared(goals, Goal, db, parts[3][2], goal_row))
            graph.states[state.pk] = state
            if state.is_start and graph.start is None:
                graph.start = state
        if transition_row[0] is not None:
            transition = Transition.from_db(db, parts[4][2], transition_row)
            Transition.goal.field.set_cached_value(
                transition, _shared(goals, Goal, db, parts[5][2], transition_goal_row)
            )
            pending.append(transition)
    for transition in pending:  # in (priority, id) order within each plan
        from_state = states[transition.from_state_id]
        graph = graphs[from_state.plan_id]
        to_state = graph.states.get(transition.to_state_id)
        if to_state is None:
            continue  # a transition into another plan: never followed
        Transition.from_state.field.set_cached_value(transition, from_state)
        Transition.to_state.field.set_cached_value(transition, to_state)
        graph.transitions_from.setdefault(transition.from_state_id, []).append(transition)
    for graph in graphs.values():
        graph.entry_keywords = plan_entry_keywords(graph.plan)
    return graphs


def _shared(seen: dict, model, db: str, columns: list[str], row: tuple):
    """One instance per row id within a load (None for a NULL LEFT JOIN)."""
    if row[0] is None:
        return None
    instance = seen.get(row[0])
    if instance is None:
        instance = seen[row[0]] = model.from_db(db, columns, row)
    return instance


def plan_graphs(*, plan_ids: set[int], token: int | None) -> dict[int, PlanGraph]:
    """The graphs of the plans `plan_ids` as of `token` (read from the database when not
    cached; at most three queries)."""
    snap = _snapshot_for(token)
    missing = [pk for pk in plan_ids if pk not in snap.plans]
    if missing:
        snap.plans.update(_graphs_load(plan_id__in=missing))
        for plan in Plan.objects.filter(pk__in=[pk for pk in missing if pk not in snap.plans]):
            snap.plans[plan.pk] = PlanGraph(plan=plan)  # a plan without states (never expected)
    return {pk: snap.plans[pk] for pk in plan_ids}


def entry_graphs(*, token: int | None) -> list[PlanGraph]:
    """Active plans that enroll on a message (entry keywords or catch-all) and have a
    start state, oldest first — the candidates of an entry trigger."""
    snap = _snapshot_for(token)
    if snap.entry is None:
        active = _graphs_load(plan__status=Plan.Status.ACTIVE)
        for pk, graph in active.items():
            snap.plans.setdefault(pk, graph)
        snap.entry = sorted(
            (
                snap.plans[pk]
                for pk in active
                if snap.plans[pk].start is not None
                and snap.plans[pk].plan.entry_trigger in (Plan.EntryTrigger.ANY, Plan.EntryTrigger.KEYWORD)
            ),
            key=lambda g: (g.plan.created_at, g.plan.pk),
        )
    return snap.entry
