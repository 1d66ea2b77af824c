"""Goal conversions (Sitecore's goals + engagement value): recorded once per enrollment."""

import functools

from django.db import connection
from django.utils import timezone

from contacts.models import Contact
from tracking.models import Goal, GoalConversion, Interaction


def goal_convert(
    *,
    contact: Contact,
    goal: Goal,
    enrollment=None,
    interaction: Interaction | None = None,
    known_new: bool = False,
) -> GoalConversion | None:
    """Record that `contact` reached `goal` (once per enrollment and goal) and add the
    goal's points to the contact's engagement value. None when already converted.

    Call it with the contact row locked. With an enrollment, the unique constraint on
    (enrollment, goal) decides in the INSERT itself (``ON CONFLICT DO NOTHING``): one
    statement, no separate check. `known_new` is accepted for compatibility (the caller
    knows it is new); the INSERT is the same."""
    occurred_at = interaction.created_at if interaction is not None else timezone.now()
    values = {
        "contact_id": contact.pk,
        "goal_id": goal.pk,
        "enrollment_id": enrollment.pk if enrollment is not None else None,
        "interaction_id": interaction.pk if interaction is not None else None,
        "points": goal.points,
        "occurred_at": occurred_at,
    }
    if enrollment is None:
        conversion = GoalConversion.objects.create(**values)
    else:
        pk = _goal_conversion_insert_once(values)
        if pk is None:
            return None
        conversion = GoalConversion(pk=pk, **values)
        conversion._state.adding = False
    if goal.points:
        _engagement_add(contact_id=contact.pk, points=goal.points)
        contact.engagement_value += goal.points  # the in-memory copy follows (caller holds the lock)
    return conversion


def _engagement_add(*, contact_id: int, points: int) -> None:
    """``UPDATE … SET engagement_value = engagement_value + points`` (as
    ``update(engagement_value=F(...) + points)`` would, without compiling it each time)."""
    with connection.cursor() as cursor:
        cursor.execute(_engagement_add_sql(connection.vendor), [points, contact_id])


@functools.cache
def _engagement_add_sql(vendor: str) -> str:
    qn = connection.ops.quote_name
    meta = Contact._meta
    column = qn(meta.get_field("engagement_value").column)
    return f"UPDATE {qn(meta.db_table)} SET {column} = {column} + %s WHERE {qn(meta.pk.column)} = %s"  # noqa: S608


_CONVERSION_FIELDS = ("contact", "goal", "enrollment", "interaction", "points", "occurred_at")


@functools.cache
def _goal_conversion_insert_sql(vendor: str) -> str:
    meta = GoalConversion._meta
    qn = connection.ops.quote_name
    columns = ", ".join(qn(meta.get_field(n).column) for n in _CONVERSION_FIELDS)
    conflict = ", ".join(qn(meta.get_field(n).column) for n in ("enrollment", "goal"))
    marks = ", ".join(["%s"] * len(_CONVERSION_FIELDS))
    # Identifiers come from the model and are quoted; values are parameters.
    return (
        f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES ({marks}) "  # noqa: S608
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {qn(meta.pk.column)}"
    )


def _goal_conversion_insert_once(values: dict) -> int | None:
    """``INSERT … ON CONFLICT (enrollment_id, goal_id) DO NOTHING RETURNING id`` (PostgreSQL,
    SQLite ≥ 3.35): the new row's id, or None when this enrollment converted the goal before."""
    occurred_at = GoalConversion._meta.get_field("occurred_at").get_db_prep_save(
        values["occurred_at"], connection
    )
    params = [values[f"{n}_id"] for n in _CONVERSION_FIELDS[:4]] + [values["points"], occurred_at]
    with connection.cursor() as cursor:
        cursor.execute(_goal_conversion_insert_sql(connection.vendor), params)
        row = cursor.fetchone()
    return row[0] if row else None
