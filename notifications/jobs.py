"""Background jobs of notifications: a reminder when it is due, mentions in comments, and tasks
assigned by someone else. Each makes the user's Notification row, sends it to their sockets once
that row is committed, and by email unless they turned notification emails off.

The job does the work itself, and enqueues its own retries in the same transaction as the attempt
it records; notifications.services, which schedules reminders as tasks change, enqueues it.

The row is made here, when the job runs, not in the writer's transaction: the writer only adds the
job row (as it did before notifications were rows), and the job decides with what is true when it
runs (the comment still there, the member still in the project, the task still theirs), so nobody
gets a notification for something that no longer holds.
"""

import logging
from datetime import datetime, timedelta
from functools import partial

from django.core.mail import send_mail
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from accounts.models import User
from comments.models import Comment
from notifications.models import FINISHED, Notification, NotificationKind, Reminder, ReminderStatus
from notifications.payloads import mention_notification_data, notification_frame, task_notification_data
from realtime.events import user_notify
from tasks.models import Task

logger = logging.getLogger(__name__)

# Email attempts per reminder; the n-th retry waits 2^n minutes.
EMAIL_ATTEMPTS = 5


def _notification_add(
    *, user: User, kind: NotificationKind, task: Task, actor_id: int | None, at: datetime, data: dict
) -> Notification:
    """The user's notification row, sent to their sockets once the transaction it is made in commits.

    `at` is when what it tells of happened: the change that assigned the task, the save of the
    comment that names the user, the moment the reminder went out.
    """
    notification = Notification.objects.create(
        user=user, kind=kind, project_id=task.project_id, task_id=task.pk, actor_id=actor_id, at=at, data=data
    )
    frame = notification_frame(notification)
    transaction.on_commit(partial(user_notify, user_id=user.pk, notification=frame), robust=True)
    return notification


def _wants_email(user: User) -> bool:
    """Whether notifications of `user`'s go by email too: they have an address and want them."""
    return bool(user.email) and user.email_notifications


@task
def reminder_send(reminder_id: int) -> str:
    """Send reminder `reminder_id` if it is still pending (see reminder_deliver)."""
    return reminder_deliver(reminder_id=reminder_id)


def reminder_deliver(*, reminder_id: int) -> str:
    """Send a due reminder once: a `task.due` notification (the row, and on the user's sockets
    after commit), and the email unless the user turned them off.

    The first attempt makes the notification, whatever becomes of the email; a retry (after a
    failed email, recorded in the same transaction as the notification) only retries the email.
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
        if reminder.attempts == 0:
            _notification_add(
                user=reminder.user,
                kind=NotificationKind.TASK_DUE,
                task=task,
                actor_id=None,
                at=timezone.now(),
                data=task_notification_data(task),
            )
        if _wants_email(reminder.user):
            try:
                _email(reminder)
            except Exception as error:
                return _email_failed(reminder, error)
        reminder.status = ReminderStatus.SENT
        reminder.sent_at = timezone.now()
        reminder.save(update_fields=["status", "sent_at"])
    return "sent"


def _email(reminder: Reminder) -> None:
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
    """Make a `comment.mention` notification for each of `user_ids` still in the comment's
    project (sent to their sockets after commit), then email those who want it. Returns how many
    were told.

    A comment deleted meanwhile tells nobody. A failed email is logged and not retried: the
    notification is in the user's list and reached their sockets, and a mention is not worth a
    second email later.
    """
    with transaction.atomic():
        comment = Comment.objects.select_related("task__project", "author").filter(pk=comment_id).first()
        if comment is None:
            return 0
        recipients = list(
            User.objects.filter(pk__in=user_ids, is_active=True, memberships__project_id=comment.project_id).order_by(
                "pk"
            )
        )
        data = mention_notification_data(comment)
        for user in recipients:
            _notification_add(
                user=user,
                kind=NotificationKind.COMMENT_MENTION,
                task=comment.task,
                actor_id=comment.author_id,
                at=comment.updated_at,
                data=data,
            )
    for user in recipients:
        if not _wants_email(user):
            continue
        try:
            _mention_email(comment, user)
        except Exception:
            logger.exception("Could not email user %s of their mention in comment %s.", user.pk, comment.pk)
    return len(recipients)


def _mention_email(comment: Comment, user: User) -> None:
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


@task
def assignment_send(task_id: int, user_id: int, actor_id: int | None, at: str) -> bool:
    """Tell a member that someone else assigned them a task at `at` (ISO 8601; see assignment_deliver)."""
    return assignment_deliver(task_id=task_id, user_id=user_id, actor_id=actor_id, at=datetime.fromisoformat(at))


def assignment_deliver(*, task_id: int, user_id: int, actor_id: int | None, at: datetime) -> bool:
    """Make a `task.assigned` notification for `user_id` (sent to their sockets after commit), then
    email them unless they turned it off. Returns whether they were told.

    Only while the task is still theirs: a task deleted or assigned to someone else before the job
    runs tells nobody. A failed email is logged and not retried, as for mentions.
    """
    with transaction.atomic():
        task = (
            Task.objects.select_related("project", "assignee")
            .filter(pk=task_id, assignee_id=user_id, assignee__is_active=True)
            .first()
        )
        if task is None:
            return False
        # The actor's account may have gone meanwhile: the notification then names nobody.
        actor = User.objects.filter(pk=actor_id).first() if actor_id is not None else None
        _notification_add(
            user=task.assignee,
            kind=NotificationKind.TASK_ASSIGNED,
            task=task,
            actor_id=actor.pk if actor is not None else None,
            at=at,
            data=task_notification_data(task),
        )
    if _wants_email(task.assignee):
        try:
            _assignment_email(task, actor)
        except Exception:
            logger.exception("Could not email user %s of their assignment to task %s.", user_id, task.pk)
    return True


def _assignment_email(task: Task, actor: User | None) -> None:
    user = task.assignee
    who = actor.get_username() if actor is not None else "Someone"
    send_mail(
        subject=f"{who} assigned you: {task.title}",
        message=(
            f"Hello {user.get_username()},\n\n"
            f'{who} assigned you "{task.title}" in the project "{task.project.name}".\n\n'
            f"Task {task.pk}: /api/tasks/{task.pk}/\n\n-- TaskFlow"
        ),
        from_email=None,
        recipient_list=[user.email],
    )
