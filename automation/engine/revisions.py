"""Published revisions as the interpreter runs them: frozen Flows cached by revision id.

A published revision never changes (``PlanRevision.save`` refuses), so a Flow read once
stays right for the life of the process: no trigger, stamp or invalidation is needed
(docs/architecture.md §3). Flows are immutable, so threads share them safely. Only published revisions
are cached; a draft is read afresh every time. Reading a revision also resolves its goals'
slugs to their rows (a goal's id never changes), so converting one costs no look-up."""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections import OrderedDict
from types import MappingProxyType

from django.db import connection

from automation.flow import Flow, flow_build
from automation.models import Plan, PlanRevision
from tracking.services import goal_ids_by_slug

CACHE_SIZE = 512
_lock = threading.Lock()
_cache: OrderedDict[int, Flow] = OrderedDict()


def revision_flow(revision_id: int) -> Flow:
    """The Flow of revision `revision_id` (two queries when it is not cached)."""
    with _lock:
        flow = _cache.get(revision_id)
        if flow is not None:
            _cache.move_to_end(revision_id)
            return flow
    return revision_flows([revision_id])[revision_id]


def revision_flows(revision_ids) -> dict[int, Flow]:
    """The Flows of several revisions: the ones not cached are read in two queries."""
    wanted = set(revision_ids)
    with _lock:
        found = {pk: _cache[pk] for pk in wanted if pk in _cache}
    missing = wanted - found.keys()
    if not missing:
        return found
    rows = list(
        PlanRevision.objects.filter(pk__in=missing).values_list("pk", "document", "number", "published_at")
    )
    flows = {pk: flow_build(document, revision=number) for pk, document, number, _ in rows}
    ids = goal_ids_by_slug(slug for flow in flows.values() for slug in flow.goals)
    for pk, _, _, published_at in rows:
        flow = dataclasses.replace(
            flows[pk], goal_ids=MappingProxyType({s: ids[s] for s in flows[pk].goals if s in ids})
        )
        found[pk] = flow
        if published_at is not None:
            with _lock:
                _cache[pk] = flow
                while len(_cache) > CACHE_SIZE:
                    _cache.popitem(last=False)
    if missing - found.keys():
        raise PlanRevision.DoesNotExist(f"No revision {sorted(missing - found.keys())}.")
    return found


def revision_cache_clear() -> None:
    """Forget every cached Flow (tests: a rolled-back database hands out ids again)."""
    with _lock:
        _cache.clear()


def entry_flows() -> list[tuple[int, int, Flow]]:
    """(plan id, revision id, Flow) of every active plan with a published revision, oldest
    plan first: the candidates of a message's entry (one query)."""
    with connection.cursor() as cursor:
        cursor.execute(_entry_sql(connection.vendor), [Plan.Status.ACTIVE.value])
        rows = cursor.fetchall()
    flows = revision_flows(revision_id for _, revision_id in rows)
    return [(plan_id, revision_id, flows[revision_id]) for plan_id, revision_id in rows]


@functools.cache
def _entry_sql(vendor: str) -> str:
    """Built once per process from the model: a first message runs it, and the ORM would
    compile it every time (hand-built, docs/architecture.md §4: bench/hand_sql.py, case 8 — three times
    the CPU, 198 against 591 µs)."""
    meta = Plan._meta
    qn = connection.ops.quote_name
    pk, published, status, created = (
        qn(meta.get_field(n).column) for n in ("id", "published", "status", "created_at")
    )
    # Identifiers come from the model and are quoted; the status is a parameter.
    return (
        f"SELECT {pk}, {published} FROM {qn(meta.db_table)} "  # noqa: S608
        f"WHERE {status} = %s AND {published} IS NOT NULL ORDER BY {created}, {pk}"
    )


def step_name(*, revision_id: int, step_id: str) -> str:
    """The name of step `step_id` of a revision (its id when the step is not there)."""
    step = revision_flow(revision_id).steps.get(step_id)
    return step.name if step is not None else step_id


def flow_goal_id(flow: Flow, slug: str) -> int | None:
    """The id of the goal `slug` of a plan: as its revision recorded it, else (a goal made
    after the revision was read) from the database; None when there is no such goal."""
    return flow.goal_ids.get(slug) or goal_ids_by_slug([slug]).get(slug)
