"""Receivers of the tasks app's signals: a task's due-date reminder follows every change of it.

task_changed is sent inside the writer's transaction, with the task's row locked, so the reminder
(and the job that sends it) is written in that transaction too (notifications.services).
"""

from django.dispatch import receiver

from notifications.services import reminder_sync
from tasks.signals import Change, task_changed

# Fields whose change may start, move or cancel the task's due-date reminder.
REMINDER_FIELDS = frozenset({"assignee_id", "due_at", "status"})


@receiver(task_changed, dispatch_uid="notifications.task_changed")
def task_reminder(sender, *, task, change, fields, **kwargs) -> None:
    if change == Change.CREATED:
        reminder_sync(task=task, new=True)
    elif change == Change.UPDATED and REMINDER_FIELDS.intersection(fields):
        reminder_sync(task=task)
