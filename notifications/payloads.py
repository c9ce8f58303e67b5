"""The shapes of notifications as users' sockets receive them: one typed payload per shape."""

from typing import Literal, TypedDict

from notifications.models import Reminder
from tasks.payloads import datetime_text


class ReminderTaskPayload(TypedDict):
    """The task a reminder is about, with its project's name for display."""

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
    task: ReminderTaskPayload


def reminder_notification_payload(reminder: Reminder) -> ReminderNotificationPayload:
    """The frame of a reminder, before it is sent (`at` is set when it is)."""
    task = reminder.task
    return {
        "type": "notification",
        "kind": "task.due",
        "id": reminder.pk,
        "at": None,
        "task": {
            "id": task.pk,
            "project": task.project_id,
            "project_name": task.project.name,
            "title": task.title,
            "due_at": datetime_text(task.due_at),
        },
    }
