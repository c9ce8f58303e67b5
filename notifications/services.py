"""Scheduling reminders as tasks change, and sending them: the personal WebSocket channel and email.

`reminder_sync` runs in the task services' transaction after every change of a task, with the
task's row locked: it keeps the task's one pending reminder in step with its assignee, due date and
status. The job that sends it is enqueued in that same transaction: the job row lives in the same
database, so it exists exactly when the change commits (a rollback leaves neither; a crash right
after the commit cannot lose it, as it could with `on_commit`).
"""

import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from rest_framework.fields import DateTimeField

from notifications.jobs import reminder_send
from notifications.models import Reminder, ReminderStatus
from realtime.events import user_notify
from tasks.models import Status, Task

logger = logging.getLogger(__name__)

# Email attempts per reminder; the n-th retry waits 2^n minutes.
EMAIL_ATTEMPTS = 5

_datetime_field = DateTimeField()

# Tasks in these states need no reminder.
FINISHED = (Status.DONE, Status.CANCELLED)


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


def reminder_deliver(*, reminder_id: int) -> str:
    """Send a due reminder once: by email, then on the user's WebSocket channel after commit.

    Returns what happened: "sent", "skipped" (not pending any more, or the task moved on) or
    "retrying"/"failed" when the email could not be sent.
    """
    with transaction.atomic():
        reminder = (
            Reminder.objects.select_for_update()
            .select_related("task__project", "user")
            .filter(pk=reminder_id, status=ReminderStatus.PENDING)
            .first()
        )
        if reminder is None:
            return "skipped"
        task = reminder.task
        if task.assignee_id != reminder.user_id or task.due_at != reminder.due_at or task.status in FINISHED:
            # The task services cancel such reminders; this only guards against a change they missed.
            reminder.status = ReminderStatus.CANCELLED
            reminder.save(update_fields=["status"])
            return "skipped"
        notification = reminder_notification(reminder)
        try:
            _email(reminder)
        except Exception as error:
            return _email_failed(reminder, error)
        reminder.status = ReminderStatus.SENT
        reminder.sent_at = timezone.now()
        reminder.save(update_fields=["status", "sent_at"])
        notification["at"] = _datetime_field.to_representation(reminder.sent_at)
        transaction.on_commit(partial(user_notify, user_id=reminder.user_id, notification=notification), robust=True)
    return "sent"


def reminder_notification(reminder: Reminder) -> dict:
    """The `notification` frame of a reminder, as the user's sockets receive it."""
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
            "due_at": _datetime_field.to_representation(task.due_at),
        },
    }


def _email(reminder: Reminder) -> None:
    if not reminder.user.email:
        return
    task = reminder.task
    due = timezone.localtime(task.due_at).strftime("%Y-%m-%d %H:%M %Z")
    send_mail(
        subject=f"Reminder: {task.title} is due {due}",
        message=(
            f"Hello {reminder.user.get_username()},\n\n"
            f'"{task.title}" in the project "{task.project.name}" is assigned to you and due {due}.\n\n'
            f"Task {task.pk}: /api/tasks/{task.pk}/\n\n-- TaskFlow"
        ),
        from_email=None,
        recipient_list=[reminder.user.email],
    )


def _email_failed(reminder: Reminder, error: Exception) -> str:
    """Record a failed email; retry later with backoff, or give up after EMAIL_ATTEMPTS."""
    reminder.attempts += 1
    reminder.error = f"{type(error).__name__}: {error}"[:1000]
    if reminder.attempts >= EMAIL_ATTEMPTS:
        reminder.status = ReminderStatus.FAILED
        logger.error("Giving up on reminder %s after %d failed emails: %s", reminder.pk, reminder.attempts, error)
    else:
        logger.warning("Reminder %s: email failed (%s); retrying.", reminder.pk, error)
        delay = timedelta(minutes=2**reminder.attempts)
        reminder_send.using(run_after=timezone.now() + delay).enqueue(reminder.pk)
    reminder.save(update_fields=["attempts", "error", "status"])
    return "failed" if reminder.status == ReminderStatus.FAILED else "retrying"
