"""Receivers of the domain signals: a task's due-date reminder follows every change of it, a task's
new assignee is notified when someone else assigned them, and a comment's new mentions are notified.

The signals are sent inside the writer's transaction (task_changed with the task's row locked), so
the reminder and the jobs that send notifications are written in that transaction too
(notifications.services): they exist exactly when the change commits.
"""

from django.dispatch import receiver

from comments.signals import comment_changed
from notifications.services import assignment_notify, mentions_notify, reminder_sync
from tasks.signals import Change, task_changed

# Fields whose change may start, move or cancel the task's due-date reminder.
REMINDER_FIELDS = frozenset({"assignee_id", "due_at", "status"})


@receiver(task_changed, dispatch_uid="notifications.task_changed")
def task_reminder(sender, *, task, change, fields, **kwargs) -> None:
    if change == Change.CREATED:
        reminder_sync(task=task, new=True)
    elif change == Change.UPDATED and REMINDER_FIELDS.intersection(fields):
        reminder_sync(task=task)


@receiver(task_changed, dispatch_uid="notifications.task_assigned")
def task_assignment(sender, *, task, change, fields, actor, **kwargs) -> None:
    if change == Change.DELETED or "assignee_id" not in fields or task.assignee_id is None:
        return
    if actor is not None and actor.pk == task.assignee_id:
        return  # assigning yourself tells nobody
    assignment_notify(task=task, actor=actor)


@receiver(comment_changed, dispatch_uid="notifications.comment_changed")
def comment_mentions(sender, *, comment, mentioned, **kwargs) -> None:
    if mentioned:
        mentions_notify(comment=comment, user_ids=mentioned)
