"""Helpers for the few statements written out by hand: those every request or write runs.

Building a query through the ORM costs several times running it on this hardware (bench/README.md),
so the hottest ones are plain SQL. They stay portable: table names are quoted by the connection,
and row locks are asked for only where the database has them (SQLite locks the whole database for
a write transaction instead).
"""

from django.db import connection
from django.db.models import Model


def sql(template: str, **models: type[Model]) -> str:
    """`template` with `{name}` replaced by each model's quoted table and `{for_update}` filled in."""
    tables = {name: connection.ops.quote_name(model._meta.db_table) for name, model in models.items()}
    for_update = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return template.format(for_update=for_update, **tables)


def fetch_value(statement: str, params: list):
    """The first column of the first row of `statement`, or None when there is no row."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
    return None if row is None else row[0]
