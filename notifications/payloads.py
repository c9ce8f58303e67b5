"""The shape of notifications, as the API lists them and users' sockets receive them.

A notification is a row (notifications.models.Notification); `NotificationPayload` is how it
leaves TaskFlow, and its `data` is what it showed when it was made, by kind: the task (for
`task.assigned` and `task.due`), and the comment too (for `comment.mention`).
"""

from typing import Literal, TypedDict

from comments.models import Comment
from notifications.models import Notification
from tasks.models import Task
from tasks.payloads import datetime_text

NotificationKindName = Literal["task.assigned", "comment.mention", "task.due"]


class NotificationTaskPayload(TypedDict):
    """The task a notification is about, with its project's name for display."""

    id: int
    project: int
    project_name: str
    title: str
    due_at: str | None


def notification_task_payload(task: Task) -> NotificationTaskPayload:
    return {
        "id": task.pk,
        "project": task.project_id,
        "project_name": task.project.name,
        "title": task.title,
        "due_at": datetime_text(task.due_at),
    }


class TaskNotificationData(TypedDict):
    """The `data` of `task.assigned` and `task.due`: the task when the notification was made."""

    task: NotificationTaskPayload


def task_notification_data(task: Task) -> TaskNotificationData:
    return {"task": notification_task_payload(task)}


class MentionCommentPayload(TypedDict):
    """The comment a mention is in."""

    id: int
    author: int | None
    author_username: str | None
    body: str


class MentionNotificationData(TypedDict):
    """The `data` of `comment.mention`: the comment's task, and the comment as it was then."""

    task: NotificationTaskPayload
    comment: MentionCommentPayload


def mention_notification_data(comment: Comment) -> MentionNotificationData:
    author = comment.author
    return {
        "task": notification_task_payload(comment.task),
        "comment": {
            "id": comment.pk,
            "author": comment.author_id,
            "author_username": author.username if author is not None else None,
            "body": comment.body,
        },
    }


class NotificationPayload(TypedDict):
    """A notification: `GET /api/notifications/`, and (with `"type": "notification"` first) the
    frame that goes to the user's sockets."""

    id: int
    kind: NotificationKindName
    project: int
    task: int | None
    actor: int | None
    at: str
    read_at: str | None
    data: TaskNotificationData | MentionNotificationData


def notification_payload(notification: Notification) -> NotificationPayload:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "project": notification.project_id,
        "task": notification.task_id,
        "actor": notification.actor_id,
        "at": datetime_text(notification.at),
        "read_at": datetime_text(notification.read_at),
        "data": notification.data,
    }


def notification_frame(notification: Notification) -> dict:
    """The `notification` frame of the user's sockets: the type, then the notification's fields."""
    return {"type": "notification", **notification_payload(notification)}
