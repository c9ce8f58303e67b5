"""Reads of attachments, always scoped to the projects the caller belongs to."""

import logging

from django.db.models import QuerySet

from accounts.authentication import user_check
from accounts.models import User
from attachments.models import Attachment
from taskflow.errors import NotFound, ServiceUnavailable
from tasks.models import Task
from tasks.selectors import in_projects_of

logger = logging.getLogger(__name__)


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


def attachment_file_open(attachment: Attachment):
    """The attachment's stored file, open for reading, its bytes reachable (a file in S3 is fetched
    into a temporary file here), so that a storage failure is a 503 before a response starts."""
    try:
        stored = attachment.file.storage.open(attachment.file.name, "rb")
        stored.file  # noqa: B018 (S3Storage fetches the object on first access)
    except Exception as error:
        logger.exception("Could not read the stored file of attachment %s.", attachment.pk)
        raise ServiceUnavailable("The file storage is unavailable; try again later.", wait=5) from error
    return stored
