"""Files attached to tasks: data and constraints only. The bytes live in Django's storage."""

from django.conf import settings
from django.db import models

from tasks.models import Project, Task

ATTACHMENTS_PER_TASK_MAX = 100
FILENAME_MAX = 255
# Where attachments are stored, under the storage's root: attachments/<project>/<task>/<random>.
STORAGE_PREFIX = "attachments"


class Attachment(models.Model):
    """A file attached to a task. `file` is its name in the storage (random, never the uploader's);
    `filename` is the uploader's, reduced to its last path component (attachments.uploads)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="attachments", db_index=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    file = models.FileField(max_length=300)
    filename = models.CharField(max_length=FILENAME_MAX)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task_id", "id"]
        indexes = [
            # A task's attachments in upload order (and the task foreign key's index on MySQL).
            models.Index(fields=["task", "id"], name="attachment_task_id"),
        ]

    def __str__(self) -> str:
        return self.filename
