"""Single-row INSERT and UPDATE statements for the webhook's hot path, compiled once per
process instead of once per call.

Django's ORM builds the SQL of every ``save()``/``create()`` anew: about 500 Python calls
per row, most of the webhook's CPU once its reads are cached. These helpers write the
same rows with the same values — field defaults and ``pre_save`` (``auto_now``,
``auto_now_add``) applied, values prepared by each field for the connection — through
a statement built once per model, field list and database vendor.

They fall back to ``Model.save()`` whenever the shortcut could differ from it: a model
that overrides ``save()``, a ``pre_save``/``post_save`` receiver for the model, a value
that is an expression, or a database that cannot return the new id from an INSERT.
"""

from __future__ import annotations

import functools

from django.db import DatabaseError, connections
from django.db.models import (
    BooleanField,
    CharField,
    ForeignKey,
    IntegerField,
    Model,
    TextField,
)
from django.db.models.fields import AutoFieldMixin, Field
from django.db.models.signals import post_save, pre_save


def _plain(model: type[Model]) -> bool:
    """Whether saving `model` is only its SQL: no save() override, no save signals."""
    return (
        model.save is Model.save
        and model.save_base is Model.save_base
        and not pre_save.has_listeners(model)
        and not post_save.has_listeners(model)
    )


# Fields whose database value IS the Python value when that is None or of the plain type
# below (prep would only call str()/int()/bool() on it again); anything else is prepared.
_AS_IS = {CharField: str, TextField: str, BooleanField: bool, IntegerField: int, AutoFieldMixin: int}


@functools.cache
def _plain_type(field) -> type | None:
    if isinstance(field, ForeignKey):
        return _plain_type(field.target_field)
    if field.choices and not isinstance(field, CharField):
        return None
    for kind, python_type in _AS_IS.items():
        if isinstance(field, kind) and type(field).get_db_prep_save is Field.get_db_prep_save:
            return python_type
    return None


def _prepared(fields: tuple, values: list, connection) -> list:
    out = []
    for f, v in zip(fields, values, strict=True):
        if v is None or type(v) is _plain_type(f):
            out.append(v)
        else:
            out.append(f.get_db_prep_save(v, connection))
    return out


@functools.cache
def _insert_statement(model: type[Model], vendor: str) -> tuple[str, tuple]:
    connection = next(c for c in connections.all() if c.vendor == vendor)
    meta = model._meta
    qn = connection.ops.quote_name
    fields = tuple(
        f
        for f in meta.local_concrete_fields
        if f is not meta.auto_field and not getattr(f, "generated", False)
    )
    columns = ", ".join(qn(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    # Identifiers come from the model and are quoted; values are parameters.
    sql = f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES ({marks}) RETURNING {qn(meta.pk.column)}"  # noqa: S608
    return sql, fields


@functools.cache
def _update_statement(model: type[Model], names: tuple[str, ...], vendor: str) -> tuple[str, tuple]:
    connection = next(c for c in connections.all() if c.vendor == vendor)
    meta = model._meta
    qn = connection.ops.quote_name
    fields = tuple(meta.get_field(name) for name in names)
    sets = ", ".join(f"{qn(f.column)} = %s" for f in fields)
    sql = f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {qn(meta.pk.column)} = %s"  # noqa: S608
    return sql, fields


def instance_insert(instance: Model, *, using: str = "default") -> Model:
    """``instance.save(force_insert=True)`` for a new instance, in one cached statement."""
    model = type(instance)
    connection = connections[using]
    if (
        instance.pk is not None
        or not _plain(model)
        or not connection.features.can_return_columns_from_insert
        or model._meta.parents
    ):
        instance.save(force_insert=True, using=using)
        return instance
    sql, fields = _insert_statement(model, connection.vendor)
    values = [f.pre_save(instance, True) for f in fields]
    if any(hasattr(v, "resolve_expression") for v in values):
        instance.save(force_insert=True, using=using)
        return instance
    params = _prepared(fields, values, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        (pk,) = cursor.fetchone()
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = using
    return instance


def instance_update(instance: Model, *, fields: list[str], using: str = "default") -> None:
    """``instance.save(update_fields=fields)`` in one cached statement (raises DatabaseError,
    as save() does, when the row is gone)."""
    model = type(instance)
    connection = connections[using]
    if not _plain(model):
        instance.save(update_fields=fields, using=using)
        return
    sql, model_fields = _update_statement(model, tuple(fields), connection.vendor)
    values = [f.pre_save(instance, False) for f in model_fields]
    if any(hasattr(v, "resolve_expression") for v in values):
        instance.save(update_fields=fields, using=using)
        return
    params = _prepared(model_fields, values, connection)
    params.append(instance.pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount < 1:
            raise DatabaseError("Save with update_fields did not affect any rows.")


@functools.cache
def _converters(model: type[Model], vendor: str) -> tuple:
    """The (index, converter, column) of each concrete field of `model` whose database
    value needs converting (as the ORM's compiler does: backend, then field converters)."""
    connection = next(c for c in connections.all() if c.vendor == vendor)
    out = []
    for i, f in enumerate(model._meta.concrete_fields):
        col = f.get_col(model._meta.db_table)
        for convert in connection.ops.get_db_converters(col) + col.get_db_converters(connection):
            out.append((i, convert, col))
    return tuple(out)


def row_convert(model: type[Model], rows, *, using: str = "default") -> list[list]:
    """Rows of `model`'s concrete columns (in field order; extra trailing columns are
    dropped) as Python values, ready for ``model.from_db``."""
    connection = connections[using]
    converters = _converters(model, connection.vendor)
    width = len(model._meta.concrete_fields)
    out = []
    for row in rows:
        values = list(row[:width])
        for i, convert, col in converters:
            values[i] = convert(values[i], col, connection)
        out.append(values)
    return out
