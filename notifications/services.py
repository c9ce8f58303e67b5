"""Scheduling reminders as tasks change, notifications of mentions and assignments (sending them is
the jobs': notifications.jobs), and a user's marking of their notifications as read.

`reminder_sync` runs in the task services' transaction after every change of a task, with the
task's row locked (notifications.receivers): it keeps the task's one pending reminder in step with
its assignee, due date and status. The job that sends it is enqueued in that same transaction: the
job row lives in the same database, so it exists exactly when the change commits (a rollback
leaves neither; a crash right after the commit cannot lose it, as it could with `on_commit`).
"""

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from comments.models import Comment
from notifications.jobs import assignment_send, mention_send, reminder_send
from notifications.models import FINISHED, Notification, Reminder, ReminderStatus
from tasks.models import Task


def reminder_sync(*, task: Task, new: bool = False) -> Reminder | None:
    """Make the task's pending reminder match it; returns the pending reminder, if any.

    A task is reminded of when it has an assignee, a due date in the future and is neither done nor
    cancelled. The reminder goes out TASKFLOW_REMINDER_LEAD before it is due, or at once when that
    moment has already passed. `new`: the task was created in this transaction, so it has none yet.
    """
    now = timezone.now()
    wanted = (
        task.assignee_id is not None and task.due_at is not None and task.due_at > now and task.status not in FINISHED
    )
    pending = None if new else Reminder.objects.filter(task=task, status=ReminderStatus.PENDING).first()
    if pending is not None:
        if wanted and pending.user_id == task.assignee_id and pending.due_at == task.due_at:
            return pending
        pending.status = ReminderStatus.CANCELLED
        pending.save(update_fields=["status"])
    if not wanted:
        return None
    reminder = Reminder.objects.create(
        task=task,
        user_id=task.assignee_id,
        due_at=task.due_at,
        remind_at=max(now, task.due_at - settings.TASKFLOW_REMINDER_LEAD),
    )
    reminder_send.using(run_after=reminder.remind_at).enqueue(reminder.pk)
    return reminder


def mentions_notify(*, comment: Comment, user_ids: list[int]) -> None:
    """Enqueue the notification of the members a comment mentions for the first time, in the
    comment's transaction (the job row exists exactly when the comment does)."""
    mention_send.enqueue(comment.pk, list(user_ids))


def assignment_notify(*, task: Task, actor: User | None) -> None:
    """Enqueue the notification of the task's new assignee, in the task's transaction (the job row
    exists exactly when the change does). The caller checks that someone else assigned them."""
    at = timezone.now().isoformat()
    assignment_send.enqueue(task.pk, task.assignee_id, actor.pk if actor is not None else None, at)


def notification_read(*, notification: Notification) -> None:
    """Mark one of the user's notifications read; one already read keeps the time it was first read."""
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)


def notifications_read_all(*, user: User) -> int:
    """Mark every unread notification of the user's read, in one statement; returns how many."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
