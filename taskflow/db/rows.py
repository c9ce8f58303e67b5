"""Helpers for the few statements written out by hand: those every request or write runs.

Building a query through the ORM costs several times running it on this hardware (bench/README.md),
so the hottest ones are plain SQL, leaning on the ORM's internals to stay its equal: each field's
`pre_save`, `get_db_prep_save` and database converters, `Model.from_db` and `_state`.
taskflow/tests/test_rows.py checks, in both test passes, that what they write and read is what
`save()` and a queryset would. They stay portable: table names are quoted by the connection,
and row locks are asked for only where the database has them (SQLite locks the whole database for
a write transaction instead).
"""

from collections.abc import Iterable
from functools import lru_cache

from django.db import connection
from django.db.models import Model


def sql(template: str, **models: type[Model]) -> str:
    """`template` with `{name}` replaced by each model's quoted table and `{for_update}` filled in.

    Worked out once per template, models and database, not once per call.
    """
    return _sql(template, tuple(models.items()), connection.vendor)


@lru_cache(maxsize=256)
def _sql(template: str, models: tuple[tuple[str, type[Model]], ...], vendor: str) -> str:
    tables = {name: connection.ops.quote_name(model._meta.db_table) for name, model in models}
    for_update = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return template.format(for_update=for_update, **tables)


def fetch_row(statement: str, params: list) -> tuple | None:
    """The first row of `statement`, or None when there is none."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()


def fetch_value(statement: str, params: list):
    """The first column of the first row of `statement`, or None when there is no row."""
    row = fetch_row(statement, params)
    return None if row is None else row[0]


def fetch_instance[M: Model](model: type[M], statement: str, params: list) -> M | None:
    """The first row of `statement` as a `model` instance, or None when there is no row.

    The row's columns are the model's (any subset, any order) and possibly others, which become
    attributes (`SELECT t.*, m.role ...` gives a task with `role`). What `Model.objects.raw()`
    would do, without rebuilding its column map and converters for every query.
    """
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
        if row is None:
            return None
        columns = tuple(column[0] for column in cursor.description)
    return _row_loader(model, columns, connection.vendor)(row)


@lru_cache(maxsize=128)
def _row_loader(model: type[Model], columns: tuple[str, ...], _vendor: str):
    """A function turning a row of `columns` into a `model` instance.

    Built once per model, columns and database vendor; the converters are the ones the ORM
    would apply (time zones, booleans, JSON), taken from the connection that first asks.
    """
    by_column = {field.column: field for field in model._meta.concrete_fields}
    positions = {column: index for index, column in enumerate(columns)}
    # Model.from_db wants the model's own columns in field order.
    fields = [field for field in model._meta.concrete_fields if field.column in positions]
    field_positions = [positions[field.column] for field in fields]
    attnames = [field.attname for field in fields]
    extras = [(column, index) for column, index in positions.items() if column not in by_column]
    converters = []
    for index, field in zip(field_positions, fields, strict=True):
        col = field.get_col(model._meta.db_table)
        for converter in connection.ops.get_db_converters(col) + col.get_db_converters(connection):
            converters.append((index, converter, col))
    database = connection.alias

    def load(row):
        if converters:
            row = list(row)
            for index, converter, col in converters:
                row[index] = converter(row[index], col, connection)
        instance = model.from_db(database, attnames, [row[index] for index in field_positions])
        for name, index in extras:
            setattr(instance, name, row[index])
        return instance

    return load


def insert_instance(instance: Model) -> None:
    """INSERT a new `instance` (every concrete field but an automatic primary key) and set its pk.

    What `instance.save()` does for a new row, without its signals and query building: for rows
    that every write adds. Field values are prepared as the ORM prepares them (auto_now_add, JSON,
    time zones).
    """
    statement, fields, returning = _inserter(type(instance), connection.vendor)
    values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(statement, values)
        instance.pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    instance._state.adding = False
    instance._state.db = connection.alias


@lru_cache(maxsize=32)
def _inserter(model: type[Model], _vendor: str) -> tuple[str, list, bool]:
    """The INSERT statement of `model`, the fields it writes, and whether it returns the new pk
    (PostgreSQL; the others tell it as the cursor's lastrowid)."""
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not (field.primary_key and field.db_returning)]
    quote = connection.ops.quote_name
    statement = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(meta.db_table), ", ".join(quote(field.column) for field in fields), ", ".join(["%s"] * len(fields))
    )
    returning = connection.vendor == "postgresql"
    if returning:
        statement += f" RETURNING {quote(meta.pk.column)}"
    return statement, fields, returning


def update_instance(instance: Model, fields: Iterable[str], **expected) -> bool:
    """UPDATE these fields (names) of `instance`'s row, by its primary key and, with `expected`,
    only while the row still holds those values (`version=3`); returns whether it did.

    What `instance.save(update_fields=fields)` does, without its signals and query building: for
    rows that writes change one at a time, whose writers then record the change themselves. Values
    are prepared as the ORM prepares them (auto_now, JSON, time zones).
    """
    statement, model_fields, expected_fields = _updater(
        type(instance), tuple(fields), tuple(expected), connection.vendor
    )
    values = [field.get_db_prep_save(field.pre_save(instance, False), connection) for field in model_fields]
    conditions = [field.get_db_prep_value(expected[field.name], connection) for field in expected_fields]
    with connection.cursor() as cursor:
        cursor.execute(statement, [*values, instance.pk, *conditions])
        return cursor.rowcount == 1


@lru_cache(maxsize=128)
def _updater(model: type[Model], names: tuple[str, ...], expected: tuple[str, ...], _vendor: str):
    meta = model._meta
    fields = [meta.get_field(name) for name in names]
    expected_fields = [meta.get_field(name) for name in expected]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    conditions = "".join(f" AND {quote(field.column)} = %s" for field in expected_fields)
    statement = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s{conditions}"
    return statement, fields, expected_fields
