"""The event catalogue: every event type, the domain change it records, its payload and how a client applies it.

The receivers (realtime.receivers) record events from it, docs/events.md is generated from it
(`manage.py events_doc`), and the tests check both against it: a type that is not here cannot be
recorded, and one that is here is documented and applied to an old state by a test.
"""

from dataclasses import dataclass

from django.dispatch import Signal

from realtime.models import EventType
from tasks.payloads import MemberPayload, ProjectPayload, TaskDeletedPayload, TaskPayload
from tasks.signals import Change, member_changed, project_changed, task_changed


@dataclass(frozen=True)
class EventKind:
    """One event type of the catalogue."""

    type: EventType
    signal: Signal  # the domain signal that records it...
    change: Change  # ...when sent with this change
    payload: type  # the TypedDict of its `data` (tasks.payloads)
    apply: str  # how a client keeping a copy of the project applies it


CATALOGUE: tuple[EventKind, ...] = (
    EventKind(
        EventType.TASK_CREATED,
        task_changed,
        Change.CREATED,
        TaskPayload,
        "store the task under its `id`",
    ),
    EventKind(
        EventType.TASK_UPDATED,
        task_changed,
        Change.UPDATED,
        TaskPayload,
        "store the task under its `id` (it replaces the whole task: every field is in `data`)",
    ),
    EventKind(
        EventType.TASK_DELETED,
        task_changed,
        Change.DELETED,
        TaskDeletedPayload,
        "remove the task with that `id`",
    ),
    EventKind(
        EventType.PROJECT_UPDATED,
        project_changed,
        Change.UPDATED,
        ProjectPayload,
        "merge `data` into the project (the caller's `role` and the `event_seq` are not in it)",
    ),
    EventKind(
        EventType.MEMBER_ADDED,
        member_changed,
        Change.CREATED,
        MemberPayload,
        "store the member under its `user`",
    ),
    EventKind(
        EventType.MEMBER_UPDATED,
        member_changed,
        Change.UPDATED,
        MemberPayload,
        "store the member under its `user` (a new role)",
    ),
    EventKind(
        EventType.MEMBER_REMOVED,
        member_changed,
        Change.DELETED,
        MemberPayload,
        "remove the member with that `user`; if it is you, forget the project",
    ),
)

_BY_CHANGE = {(kind.signal, kind.change): kind.type for kind in CATALOGUE}


def event_type_of(signal: Signal, change: Change) -> EventType:
    """The event type recording `change` sent on `signal`."""
    return _BY_CHANGE[signal, change]
