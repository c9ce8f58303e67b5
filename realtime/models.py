"""The event log (every change to a project, numbered per project in commit order) and the
activity history (the field-level record of those changes, kept for as long as the project)."""

from django.conf import settings
from django.db import models


class EventType(models.TextChoices):
    TASK_CREATED = "task.created"
    TASK_UPDATED = "task.updated"
    TASK_DELETED = "task.deleted"
    PROJECT_UPDATED = "project.updated"
    MEMBER_ADDED = "member.added"
    MEMBER_UPDATED = "member.updated"
    MEMBER_REMOVED = "member.removed"
    COMMENT_CREATED = "comment.created"
    COMMENT_UPDATED = "comment.updated"
    COMMENT_DELETED = "comment.deleted"
    ATTACHMENT_ADDED = "attachment.added"
    ATTACHMENT_REMOVED = "attachment.removed"
    INVITATION_CREATED = "invitation.created"
    INVITATION_REVOKED = "invitation.revoked"


class Event(models.Model):
    """One change. `seq` is gap-free per project; `data` is the object after the change.

    `task_states`, for an event about a task (of the task itself, or of a comment or attachment
    on it), is what filtered subscriptions match: the task's `assignee`, `status` and `labels`
    before and after the change (a list of one or two; null for an event about no task). It is
    not shown to clients (realtime.subscriptions).
    """

    project = models.ForeignKey("tasks.Project", on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    type = models.CharField(max_length=32, choices=EventType.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    data = models.JSONField()
    task_states = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["project_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["project", "seq"], name="event_unique_seq_per_project")]

    def __str__(self) -> str:
        return f"{self.project_id}#{self.seq} {self.type}"


class Activity(models.Model):
    """One entry of a project's permanent history: who changed what, field by field.

    Written with the event that records the same change, in the writer's transaction
    (realtime.receivers), and never pruned with the event log: it goes when its project goes.
    `task` is the task the change is about, by id and not as a foreign key, so that a deleted
    task's entries stay in the project's history. `changes` maps each field that changed to
    `[old, new]`, as the API shows the object (realtime.activity).
    """

    project = models.ForeignKey("tasks.Project", on_delete=models.CASCADE, related_name="activity", db_index=False)
    task_id = models.PositiveBigIntegerField(null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()
    kind = models.CharField(max_length=32, choices=EventType.choices)
    changes = models.JSONField()

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "activity"
        indexes = [
            # Newest first, per project and per task: both lists read an index backwards.
            models.Index(fields=["project", "id"], name="activity_project_id"),
            models.Index(fields=["task_id", "id"], name="activity_task_id"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} in {self.project_id} at {self.at:%Y-%m-%d %H:%M:%S}"
