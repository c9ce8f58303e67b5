"""Comments on tasks, with the project members they mention: data and constraints only."""

from django.conf import settings
from django.core.validators import MaxLengthValidator, MinLengthValidator
from django.db import models

from tasks.models import Project, Task

COMMENT_BODY_MAX = 10_000


class Comment(models.Model):
    """A comment on a task. `body` is stored as written (clients render it); `mentions` are the
    ids of the project's members it names as `@username`, worked out on every save
    (comments.mentions). `project` is the task's, kept here so that reads are scoped by it."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="comments", db_index=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField(validators=[MinLengthValidator(1), MaxLengthValidator(COMMENT_BODY_MAX)])
    mentions = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["task_id", "id"]
        indexes = [
            # A task's comments, oldest first (and the task foreign key's index on MySQL).
            models.Index(fields=["task", "id"], name="comment_task_id"),
        ]

    def __str__(self) -> str:
        return f"Comment {self.pk} on task {self.task_id}"
