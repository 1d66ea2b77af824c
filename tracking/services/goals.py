"""Goal conversions (Sitecore's goals + engagement value): recorded once per enrollment."""

import functools
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from contacts.models import Contact
from tracking.models import Goal, GoalConversion, Interaction


def goal_ids_by_slug(slugs) -> dict[str, int]:
    """The ids of the goals named by `slugs` (those that exist), in one query."""
    return dict(Goal.objects.filter(slug__in=set(slugs)).values_list("slug", "pk"))


def goal_convert(
    *,
    contact: Contact,
    goal_id: int,
    enrollment=None,
    interaction: Interaction | None = None,
    value: Decimal | None = None,
) -> GoalConversion | None:
    """Record that `contact` reached goal `goal_id` (once per enrollment and goal) and add
    the goal's points, as the goal says now, to the contact's engagement value. None when
    already converted (or the goal is gone). `value`: the amount of the event that converted
    it (the plan's revenue).

    Call it with the contact row locked. With an enrollment, one statement decides and
    writes: ``INSERT … SELECT`` the goal's points ``… ON CONFLICT (enrollment, goal) DO
    NOTHING RETURNING`` — the unique constraint decides, no separate check, no read of the
    goal first (hand-built, docs/architecture.md §4: bench/hand_sql.py, case 6 — one statement instead of
    three for reading the goal and ``get_or_create``, a seventh of the CPU, 199 against
    1,470 µs; a reply that converts a goal stays at 13 queries)."""
    occurred_at = interaction.created_at if interaction is not None else timezone.now()
    values = {
        "contact_id": contact.pk,
        "goal_id": goal_id,
        "enrollment_id": enrollment.pk if enrollment is not None else None,
        "interaction_id": interaction.pk if interaction is not None else None,
        "value": value,
        "occurred_at": occurred_at,
    }
    if enrollment is None:
        points = Goal.objects.filter(pk=goal_id).values_list("points", flat=True).first()
        if points is None:
            return None
        conversion = GoalConversion.objects.create(**values, points=points)
    else:
        conversion = _goal_conversion_insert_once(values)
        if conversion is None:
            return None
    if conversion.points:
        _engagement_add(contact_id=contact.pk, points=conversion.points)
        contact.engagement_value += conversion.points  # the in-memory copy follows (caller holds the lock)
    return conversion


def _engagement_add(*, contact_id: int, points: int) -> None:
    """Add `points` to the contact's engagement value: ``UPDATE … SET engagement_value =
    engagement_value + %s``, as ``update(engagement_value=F(…) + points)`` would.

    Hand-built (docs/architecture.md §4): bench/hand_sql.py, case 9 — the ORM compiles the same statement
    on every goal a reply converts, for 2.7 times the CPU (163 against 463 µs, and 126
    against 333 µs in a second run)."""
    with connection.cursor() as cursor:
        cursor.execute(_engagement_add_sql(connection.vendor), [points, contact_id])


@functools.cache
def _engagement_add_sql(vendor: str) -> str:
    meta = Contact._meta
    qn = connection.ops.quote_name
    column = qn(meta.get_field("engagement_value").column)
    # Identifiers come from the model and are quoted; values are parameters.
    return f"UPDATE {qn(meta.db_table)} SET {column} = {column} + %s WHERE {qn(meta.pk.column)} = %s"  # noqa: S608


def _goal_conversion_insert_once(values: dict) -> GoalConversion | None:
    """The conversion `values` describe, inserted with the goal's points — or None when this
    enrollment converted the goal before or the goal does not exist. Python values as
    parameters, adapted by the ORM's raw()."""
    sql = _goal_conversion_insert_sql(connection.vendor)
    params = [
        values["contact_id"],
        values["enrollment_id"],
        values["interaction_id"],
        values["value"],
        values["occurred_at"],
        values["goal_id"],
    ]
    inserted = list(GoalConversion.objects.raw(sql, params))
    return inserted[0] if inserted else None


@functools.cache
def _goal_conversion_insert_sql(vendor: str) -> str:
    meta, goal = GoalConversion._meta, Goal._meta
    qn = connection.ops.quote_name
    names = ("contact", "goal", "enrollment", "interaction", "points", "value", "occurred_at")
    columns = ", ".join(qn(meta.get_field(n).column) for n in names)
    conflict = ", ".join(qn(meta.get_field(n).column) for n in ("enrollment", "goal"))
    returned = ", ".join(qn(f.column) for f in meta.concrete_fields)
    g_id, g_points = qn(goal.pk.column), qn(goal.get_field("points").column)
    # Identifiers come from the models and are quoted; values are parameters.
    return (
        f"INSERT INTO {qn(meta.db_table)} ({columns}) "  # noqa: S608
        f"SELECT %s, g.{g_id}, %s, %s, g.{g_points}, %s, %s FROM {qn(goal.db_table)} g WHERE g.{g_id} = %s "
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {returned}"
    )
