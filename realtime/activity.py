"""The activity history: each recorded change, field by field, kept for as long as its project.

realtime.receivers appends an entry with each event whose kind the catalogue keeps in the history
(`EventKind.history`), in the writer's transaction: an entry exists exactly when its change is
committed. The event log may be pruned (`manage.py prune_events`); the history is not.
"""

from realtime.models import Activity, Event
from taskflow.db.rows import insert_instance
from tasks.signals import Change

# Fields that identify an object or keep its books rather than describe it: not history.
_BOOKKEEPING = frozenset({"id", "project", "task", "version", "created_at", "updated_at", "joined_at"})


def activity_changes(*, change: Change, payload: dict, previous: dict | None) -> dict[str, list]:
    """`{field: [old, new]}` from the object before and after a change, as the API shows it.

    A creation changes every field from null, a deletion every field to null (from `previous`:
    a deleted object's payload may only name it), an update only the fields whose value changed.
    """
    if change == Change.CREATED or previous is None:
        return {name: [None, value] for name, value in payload.items() if name not in _BOOKKEEPING}
    if change == Change.DELETED:
        return {name: [value, None] for name, value in previous.items() if name not in _BOOKKEEPING}
    return {
        name: [previous.get(name), value]
        for name, value in payload.items()
        if name not in _BOOKKEEPING and previous.get(name) != value
    }


def activity_append(*, event: Event, task_id: int | None, changes: dict[str, list]) -> Activity:
    """The history entry of `event`'s change, written in the writer's transaction."""
    entry = Activity(
        project_id=event.project_id,
        task_id=task_id,
        actor_id=event.actor_id,
        at=event.created_at,
        kind=event.type,
        changes=changes,
    )
    # One more row with every write, like the event itself (taskflow.db.rows).
    insert_instance(entry)
    return entry
