"""The shapes of notifications as users' sockets receive them: one typed payload per shape."""

from typing import Literal, TypedDict

from comments.models import Comment
from notifications.models import Reminder
from tasks.models import Task
from tasks.payloads import datetime_text


class NotificationTaskPayload(TypedDict):
    """The task a notification is about, with its project's name for display."""

    id: int
    project: int
    project_name: str
    title: str
    due_at: str | None


class ReminderNotificationPayload(TypedDict):
    """The `notification` frame of a due-date reminder (`kind` "task.due")."""

    type: Literal["notification"]
    kind: Literal["task.due"]
    id: int
    at: str | None  # when it was sent
    task: NotificationTaskPayload


def notification_task_payload(task: Task) -> NotificationTaskPayload:
    return {
        "id": task.pk,
        "project": task.project_id,
        "project_name": task.project.name,
        "title": task.title,
        "due_at": datetime_text(task.due_at),
    }


def reminder_notification_payload(reminder: Reminder) -> ReminderNotificationPayload:
    """The frame of a reminder, before it is sent (`at` is set when it is)."""
    task = reminder.task
    return {
        "type": "notification",
        "kind": "task.due",
        "id": reminder.pk,
        "at": None,
        "task": notification_task_payload(task),
    }


class MentionCommentPayload(TypedDict):
    """The comment a mention is in."""

    id: int
    author: int | None
    author_username: str | None
    body: str


class MentionNotificationPayload(TypedDict):
    """The `notification` frame of a mention in a comment (`kind` "comment.mention")."""

    type: Literal["notification"]
    kind: Literal["comment.mention"]
    id: int  # the comment's
    at: str | None  # when the comment was made or edited
    task: NotificationTaskPayload
    comment: MentionCommentPayload


def mention_notification_payload(comment: Comment) -> MentionNotificationPayload:
    author = comment.author
    return {
        "type": "notification",
        "kind": "comment.mention",
        "id": comment.pk,
        "at": datetime_text(comment.updated_at),
        "task": notification_task_payload(comment.task),
        "comment": {
            "id": comment.pk,
            "author": comment.author_id,
            "author_username": author.username if author is not None else None,
            "body": comment.body,
        },
    }
