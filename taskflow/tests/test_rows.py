"""Tripwires of taskflow.db.rows, in both test passes: the hand-written INSERT and UPDATE write what
save() would, and a row read by hand is the instance the ORM would give."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from realtime.models import Event, EventType
from taskflow.db.rows import fetch_instance, insert_instance, sql, update_instance
from tasks.models import Task
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db

# What differs between two rows written one after the other, whoever wrote them.
WRITTEN_SEPARATELY = {"id", "seq", "created_at", "updated_at"}


def stored(model, pk: int) -> dict:
    """A row as the database keeps it, read back through the ORM."""
    return {
        key: value for key, value in model.objects.filter(pk=pk).values()[0].items() if key not in WRITTEN_SEPARATELY
    }


def test_insert_instance_writes_the_row_save_would(project, user):
    data = {"title": "Zoë ✓", "labels": ["a"], "nested": {"n": 1, "none": None}, "at": "2031-01-01T00:00:00Z"}
    by_hand = Event(project=project, seq=1001, type=EventType.TASK_UPDATED, actor=user, data=data)
    by_save = Event(project=project, seq=1002, type=EventType.TASK_UPDATED, actor=user, data=data)
    insert_instance(by_hand)
    by_save.save()
    assert by_hand.pk is not None and by_hand._state.adding is False
    assert stored(Event, by_hand.pk) == stored(Event, by_save.pk)
    # auto_now_add was applied as save() applies it.
    assert Event.objects.get(pk=by_hand.pk).created_at == by_hand.created_at


def test_update_instance_writes_what_save_with_update_fields_would(project):
    by_hand, by_save = make_task(project=project, title="Old"), make_task(project=project, title="Old")
    for task in (by_hand, by_save):
        task.title, task.labels, task.due_at, task.version = "New", ["x", "y"], datetime(2031, 5, 6, tzinfo=UTC), 2
    fields = ["title", "labels", "due_at", "version", "updated_at"]
    assert update_instance(by_hand, fields) is True
    by_save.save(update_fields=fields)
    assert stored(Task, by_hand.pk) == {**stored(Task, by_save.pk), "position": stored(Task, by_hand.pk)["position"]}
    # auto_now moved on as save() moves it.
    assert Task.objects.get(pk=by_hand.pk).updated_at == by_hand.updated_at


def test_update_instance_with_an_expected_value_changes_only_a_row_that_still_holds_it(project):
    task = make_task(project=project)
    task.title = "Changed"
    assert update_instance(task, ["title"], version=7) is False
    assert Task.objects.get(pk=task.pk).title != "Changed"
    assert update_instance(task, ["title"], version=1) is True
    assert Task.objects.get(pk=task.pk).title == "Changed"


def test_fetch_instance_reads_the_instance_the_orm_would(project):
    task = make_task(project=project, labels=["a", "b"], due_at=datetime(2031, 1, 2, 3, 4, 5, 6, tzinfo=UTC))
    statement = sql("SELECT t.*, 'extra' AS note FROM {task} t WHERE t.id = %s{for_update}", task=Task)
    by_hand, by_orm = fetch_instance(Task, statement, [task.pk]), Task.objects.get(pk=task.pk)
    fields = [field.attname for field in Task._meta.concrete_fields]
    assert [getattr(by_hand, name) for name in fields] == [getattr(by_orm, name) for name in fields]
    assert by_hand.note == "extra"
    assert by_hand._state.adding is False and by_hand._state.db == connection.alias
    assert fetch_instance(Task, statement, [task.pk + 1000]) is None


def test_sql_locks_rows_only_where_the_database_has_row_locks():
    statement = sql("SELECT 1 FROM {task}{for_update}", task=Task)
    assert statement.endswith(" FOR UPDATE") == connection.features.has_select_for_update
    assert connection.ops.quote_name(Task._meta.db_table) in statement
