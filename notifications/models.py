"""Reminders of tasks coming due: one per task, assignee and due date, sent once."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from tasks.models import Status, Task

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
