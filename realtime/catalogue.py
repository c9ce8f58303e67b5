"""The event catalogue: every event type, the domain change it records, its payload and how a client applies it.

The receivers (realtime.receivers) record events from it, docs/events.md is generated from it
(`manage.py events_doc`), and the tests check both against it: a type that is not here cannot be
recorded, and one that is here is documented and applied to an old state by a test.
"""

import typing
from dataclasses import dataclass

from django.dispatch import Signal

from attachments.payloads import AttachmentPayload
from attachments.signals import attachment_changed
from comments.payloads import CommentPayload
from comments.signals import comment_changed
from realtime.models import EventType
from tasks.payloads import InvitationPayload, MemberPayload, ProjectPayload, TaskDeletedPayload, TaskPayload
from tasks.signals import Change, invitation_changed, member_changed, project_changed, task_changed


@dataclass(frozen=True)
class EventKind:
    """One event type of the catalogue."""

    type: EventType
    signal: Signal  # the domain signal that records it...
    change: Change  # ...when sent with this change
    payload: type  # the TypedDict of its `data` (tasks.payloads)
    summary: str  # what happened, and what `data` is
    apply: str  # how a client keeping a copy of the project applies it
    history: bool = True  # also kept in the activity history (realtime.activity)


CATALOGUE: tuple[EventKind, ...] = (
    EventKind(
        EventType.TASK_CREATED,
        task_changed,
        Change.CREATED,
        TaskPayload,
        "A task was created: `data` is the new task, as `GET /api/tasks/{id}/` shows it.",
        "store the task under its `id`",
    ),
    EventKind(
        EventType.TASK_UPDATED,
        task_changed,
        Change.UPDATED,
        TaskPayload,
        "A task changed: `data` is the whole task after the change.",
        "store the task under its `id` (it replaces the whole task: every field is in `data`)",
    ),
    EventKind(
        EventType.TASK_DELETED,
        task_changed,
        Change.DELETED,
        TaskDeletedPayload,
        "A task was deleted: `data` names it.",
        "remove the task with that `id`",
    ),
    EventKind(
        EventType.PROJECT_UPDATED,
        project_changed,
        Change.UPDATED,
        ProjectPayload,
        "The project's name or description changed: `data` is the project after the change, without "
        "the caller's `role` and `event_seq` (they differ per caller and per event).",
        "merge `data` into the project (the caller's `role` and the `event_seq` are not in it)",
        history=False,
    ),
    EventKind(
        EventType.MEMBER_ADDED,
        member_changed,
        Change.CREATED,
        MemberPayload,
        "A user joined the project: `data` is the new member. A new project's first event (seq 1) is its owner's.",
        "store the member under its `user`",
    ),
    EventKind(
        EventType.MEMBER_UPDATED,
        member_changed,
        Change.UPDATED,
        MemberPayload,
        "A member's role changed: `data` is the member after the change.",
        "store the member under its `user` (a new role)",
    ),
    EventKind(
        EventType.MEMBER_REMOVED,
        member_changed,
        Change.DELETED,
        MemberPayload,
        "A member left or was removed: `data` is the member as they were. Their tasks here were "
        "unassigned first, one `task.updated` each.",
        "remove the member with that `user`; if it is you, forget the project",
    ),
    EventKind(
        EventType.COMMENT_CREATED,
        comment_changed,
        Change.CREATED,
        CommentPayload,
        "A comment was made on a task: `data` is the new comment, as `GET /api/tasks/{id}/comments/` lists it.",
        "store the comment under its `id`, with its `task`",
    ),
    EventKind(
        EventType.COMMENT_UPDATED,
        comment_changed,
        Change.UPDATED,
        CommentPayload,
        "A comment was edited (or lost its author, whose account was deleted): `data` is the whole comment "
        "after the change.",
        "store the comment under its `id` (it replaces the whole comment)",
    ),
    EventKind(
        EventType.COMMENT_DELETED,
        comment_changed,
        Change.DELETED,
        CommentPayload,
        "A comment was deleted: `data` is the comment as it was. A deleted task's comments go with it, "
        "without events of their own.",
        "remove the comment with that `id`",
    ),
    EventKind(
        EventType.ATTACHMENT_ADDED,
        attachment_changed,
        Change.CREATED,
        AttachmentPayload,
        "A file was attached to a task: `data` is the attachment's metadata, as `GET /api/attachments/{id}/` "
        "shows it (the bytes: `GET /api/attachments/{id}/download/`).",
        "store the attachment under its `id`, with its `task`",
    ),
    EventKind(
        EventType.ATTACHMENT_REMOVED,
        attachment_changed,
        Change.DELETED,
        AttachmentPayload,
        "An attachment was removed: `data` is its metadata as it was. A deleted task's attachments go with "
        "it, without events of their own.",
        "remove the attachment with that `id`",
    ),
    EventKind(
        EventType.INVITATION_CREATED,
        invitation_changed,
        Change.CREATED,
        InvitationPayload,
        "Someone was invited to the project: `data` is the invitation, as `GET /api/projects/{id}/invitations/` "
        "lists it (never its token). Its acceptance is the new member's `member.added`.",
        "nothing to change in a copy of the project's tasks and members; a list of pending invitations stores it "
        "under its `id`",
        history=False,
    ),
    EventKind(
        EventType.INVITATION_REVOKED,
        invitation_changed,
        Change.DELETED,
        InvitationPayload,
        "An invitation was revoked: `data` is the invitation as it was. Its token no longer works.",
        "nothing to change in a copy of the project's tasks and members; a list of pending invitations removes the "
        "one with that `id`",
        history=False,
    ),
)

_BY_CHANGE = {(kind.signal, kind.change): kind for kind in CATALOGUE}


def event_kind_of(signal: Signal, change: Change) -> EventKind:
    """The catalogue's entry for the event recording `change` sent on `signal`."""
    return _BY_CHANGE[signal, change]


def _type_text(annotation) -> str:
    """A payload field's type as the docs name it: `integer`, `string or null`, `list of string`."""
    names = {int: "integer", str: "string", float: "number", bool: "boolean", type(None): "null"}
    if typing.get_origin(annotation) is list:
        return "list of " + _type_text(typing.get_args(annotation)[0])
    arguments = typing.get_args(annotation)
    if arguments:  # a union, `int | None`
        return " or ".join(_type_text(argument) for argument in arguments)
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def catalogue_markdown() -> str:
    """docs/events.md: every event type and its payload, as the catalogue has them."""
    lines = [
        "# Event types",
        "",
        "Generated from the event catalogue (`realtime/catalogue.py`) by `manage.py events_doc`: edit",
        "the catalogue, not this file (a test fails when the two differ). Every event has `seq`,",
        "`project`, `type`, `actor` and `at` ([realtime.md](realtime.md#events)); `data` is the",
        "type's payload below.",
        "",
        "| type | what happened, and `data` | payload | apply it by |",
        "|---|---|---|---|",
    ]
    for kind in CATALOGUE:
        payload = kind.payload.__name__
        lines.append(f"| `{kind.type.value}` | {kind.summary} | [{payload}](#{payload.lower()}) | {kind.apply} |")
    for payload in dict.fromkeys(kind.payload for kind in CATALOGUE):
        lines += [
            "",
            f"## {payload.__name__}",
            "",
            " ".join(payload.__doc__.split()),
            "",
            "| field | type |",
            "|---|---|",
        ]
        lines += [f"| `{name}` | {_type_text(annotation)} |" for name, annotation in payload.__annotations__.items()]
    return "\n".join(lines) + "\n"
