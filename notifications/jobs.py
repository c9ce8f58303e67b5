"""Background jobs of notifications: a reminder when it is due, and mentions in comments, each sent
by email and to the user's sockets.

The job does the work itself, and enqueues its own retries in the same transaction as the attempt
it records; notifications.services, which schedules reminders as tasks change, enqueues it.
"""

import logging
from datetime import timedelta
from functools import partial

from django.core.mail import send_mail
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from accounts.models import User
from comments.models import Comment
from notifications.models import FINISHED, Reminder, ReminderStatus
from notifications.payloads import mention_notification_payload, reminder_notification_payload
from realtime.events import user_notify
from tasks.payloads import datetime_text

logger = logging.getLogger(__name__)

# Email attempts per reminder; the n-th retry waits 2^n minutes.
EMAIL_ATTEMPTS = 5


@task
def reminder_send(reminder_id: int) -> str:
    """Send reminder `reminder_id` if it is still pending (see reminder_deliver)."""
    return reminder_deliver(reminder_id=reminder_id)


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
        notification = reminder_notification_payload(reminder)
        try:
            _email(reminder)
        except Exception as error:
            return _email_failed(reminder, error)
        reminder.status = ReminderStatus.SENT
        reminder.sent_at = timezone.now()
        reminder.save(update_fields=["status", "sent_at"])
        notification["at"] = datetime_text(reminder.sent_at)
        transaction.on_commit(partial(user_notify, user_id=reminder.user_id, notification=notification), robust=True)
    return "sent"


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


@task
def mention_send(comment_id: int, user_ids: list[int]) -> int:
    """Tell the members a comment mentions for the first time (see mention_deliver)."""
    return mention_deliver(comment_id=comment_id, user_ids=user_ids)


def mention_deliver(*, comment_id: int, user_ids: list[int]) -> int:
    """Send a `comment.mention` notification to each of `user_ids` still in the comment's project:
    by email (when they have an address) and to their sockets. Returns how many were told.

    A comment deleted meanwhile tells nobody. A failed email is logged and not retried: the
    notification reached the user's sockets, and a mention is not worth a second email later.
    """
    comment = Comment.objects.select_related("task__project", "author").filter(pk=comment_id).first()
    if comment is None:
        return 0
    recipients = list(
        User.objects.filter(pk__in=user_ids, is_active=True, memberships__project_id=comment.project_id).order_by("pk")
    )
    notification = mention_notification_payload(comment)
    for user in recipients:
        try:
            _mention_email(comment, user)
        except Exception:
            logger.exception("Could not email user %s of their mention in comment %s.", user.pk, comment.pk)
        user_notify(user_id=user.pk, notification=notification)
    return len(recipients)


def _mention_email(comment: Comment, user: User) -> None:
    if not user.email:
        return
    task = comment.task
    author = comment.author.get_username() if comment.author is not None else "Someone"
    send_mail(
        subject=f"{author} mentioned you on: {task.title}",
        message=(
            f"Hello {user.get_username()},\n\n"
            f'{author} mentioned you in a comment on "{task.title}" in the project "{task.project.name}":\n\n'
            f"{comment.body}\n\nTask {task.pk}: /api/tasks/{task.pk}/\n\n-- TaskFlow"
        ),
        from_email=None,
        recipient_list=[user.email],
    )
