"""Reminders of tasks coming due (one per task, assignee and due date, sent once), and the
notifications users are sent: assignments, mentions, due dates."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from tasks.models import Project, Status, Task

# Tasks in these states need no reminder.
FINISHED = (Status.DONE, Status.CANCELLED)


class ReminderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class Reminder(models.Model):
    """A reminder to `user` that `task` is due at `due_at`, to be sent at `remind_at`.

    A task has at most one pending reminder (kept by notifications.services under the task's row
    lock). When the due date, the assignee or the status changes, the pending one is cancelled
    and, if still wanted, a new one is made; a job sends it at `remind_at`.
    """

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="reminders")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminders")
    due_at = models.DateTimeField()
    remind_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.PENDING)
    # Failed attempts at sending the email; the job retries a few times before giving up.
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-remind_at", "-id"]
        indexes = [
            models.Index(fields=["task", "status"], name="reminder_task_status"),
            models.Index(fields=["status", "remind_at"], name="reminder_status_remind_at"),
            models.Index(fields=["user", "sent_at"], name="reminder_user_sent_at"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ReminderStatus.values), name="reminder_status_valid"),
            models.CheckConstraint(
                condition=Q(status=ReminderStatus.SENT, sent_at__isnull=False) | ~Q(status=ReminderStatus.SENT),
                name="reminder_sent_has_sent_at",
            ),
        ]

    def __str__(self) -> str:
        return f"Reminder to {self.user} of {self.task} at {self.remind_at:%Y-%m-%d %H:%M}"


class NotificationKind(models.TextChoices):
    TASK_ASSIGNED = "task.assigned", "Task assigned"
    COMMENT_MENTION = "comment.mention", "Mentioned in a comment"
    TASK_DUE = "task.due", "Task due"


class Notification(models.Model):
    """Something a user is told about: a task someone else assigned them, a mention of them in a
    comment, a task of theirs coming due. One row per user and occurrence, made by the job that
    sends it (notifications.jobs), sent to the user's sockets after its commit and by email.

    `task` is the task it is about, by id and not as a foreign key, so that a notification stays
    readable after its task is deleted (`data` holds what it showed: the task's title, the
    comment). It goes when its user or its project goes. `read_at` is null until the user marks it
    read.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    task_id = models.PositiveBigIntegerField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # Newest first, each user's own: both lists read an index backwards from the user's newest
            # (this one also serves the user foreign key).
            models.Index(fields=["user", "id"], name="notification_user_id"),
            # The unread ones (`?unread=true`, read-all): read_at IS NULL is an equality on this index.
            models.Index(fields=["user", "read_at", "id"], name="notification_user_unread"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=NotificationKind.values), name="notification_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.user_id} at {self.at:%Y-%m-%d %H:%M:%S}"
