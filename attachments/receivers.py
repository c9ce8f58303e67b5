"""Receivers of other apps' signals: what deleting a task or a project means for attachments.

A task or a project takes its attachments' rows with it (the database's cascade); their stored
files are deleted by a job enqueued in the same transaction, so only once that deletion commits.
The signals of deletions are sent before the rows go (tasks.signals), so the names can be read.
"""

from django.dispatch import receiver

from attachments.models import Attachment
from attachments.services import files_delete_after_commit
from tasks.signals import Change, project_changed, task_changed


@receiver(task_changed, dispatch_uid="attachments.task_changed")
def task_files(sender, *, task, change, **kwargs) -> None:
    if change == Change.DELETED:
        files_delete_after_commit(list(Attachment.objects.filter(task_id=task.pk).values_list("file", flat=True)))


@receiver(project_changed, dispatch_uid="attachments.project_changed")
def project_files(sender, *, project, change, **kwargs) -> None:
    if change == Change.DELETED:
        files_delete_after_commit(list(Attachment.objects.filter(project_id=project.pk).values_list("file", flat=True)))
