"""Reads of attachments, always scoped to the projects the caller belongs to."""

from django.db.models import QuerySet

from accounts.authentication import user_check
from accounts.models import User
from attachments.models import Attachment
from taskflow.errors import NotFound
from tasks.models import Task
from tasks.selectors import in_projects_of


def attachment_list(*, task: Task) -> QuerySet[Attachment]:
    """A task's attachments in upload order (the task comes from tasks.selectors, scoped already)."""
    return Attachment.objects.filter(task=task).order_by("id")


def attachment_get_for_user(*, user: User, attachment_id: int) -> Attachment:
    """One attachment of a project the user belongs to, with the user's `role` there; else 404."""
    user_check(user)
    attachment = in_projects_of(Attachment.objects.filter(pk=attachment_id), user=user).first()
    if attachment is None:
        raise NotFound()
    return attachment
