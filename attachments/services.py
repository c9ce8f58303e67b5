"""Writes to attachments: one function per use case, each one transaction that sends `attachment_changed`.

Members, admins and the owner upload; viewers download. The uploader, an admin or the owner
removes an attachment. Objects come from the selectors with the actor's `role`.

The bytes go to Django's storage (`default_storage`: the file system, or S3 with STORAGE_URL)
before the transaction, so that no database lock waits on the storage. A transaction that fails
deletes the file it stored; a process that dies between the two leaves an orphan, which
`attachment_orphans_sweep` removes. A file whose row is deleted (with its attachment, its task or
its project) is deleted from the storage by a job enqueued in the deleting transaction: it runs
only once that deletion commits, and is never lost.

Lock order (tasks.services._change_by): the task's row first (`task_row_lock`: a task deleted
meanwhile is a 404), then the project's event counter, held from the start by an upload, which
inserts a row of the project.
"""

import hashlib
import logging
import uuid

from django.core.files.storage import default_storage
from django.db import transaction

from accounts.models import User
from attachments.jobs import attachment_files_delete
from attachments.models import ATTACHMENTS_PER_TASK_MAX, STORAGE_PREFIX, Attachment
from attachments.payloads import attachment_payload
from attachments.signals import attachment_changed
from attachments.uploads import content_type_clean, filename_clean
from taskflow.errors import InvalidInput, NotFound, ServiceUnavailable
from tasks.event_counter import event_counter_held
from tasks.models import TASK_WRITERS, Task
from tasks.services import require_own_or_editor, require_role, task_row_lock
from tasks.signals import Change

logger = logging.getLogger(__name__)

# The storage failed (S3 unreachable, a full disk): nothing was recorded; the request may be sent again.
STORAGE_UNAVAILABLE = "The file storage is unavailable; try again later."

# File deletions per job: a project's worth of files is deleted in several.
DELETE_BATCH = 500


def attachment_upload_check(*, task: Task, actor: User, operator: bool = False) -> None:
    """Whether `actor` may attach a file to `task` now (403, or 400 at the limit): asked before the
    upload's body is read, and again when it is stored."""
    require_role(task, TASK_WRITERS, operator=operator, action="attach files")
    if Attachment.objects.filter(task_id=task.pk).count() >= ATTACHMENTS_PER_TASK_MAX:
        raise InvalidInput(f"A task has at most {ATTACHMENTS_PER_TASK_MAX} attachments.", field="file")


def attachment_add(*, task: Task, actor: User, upload, operator: bool = False) -> Attachment:
    """Store an uploaded file (a Django File: from attachments.uploads.UploadHandler, or any other)
    and attach it to `task`."""
    attachment_upload_check(task=task, actor=actor, operator=operator)
    filename = filename_clean(upload.name)
    sha256 = getattr(upload, "sha256", None) or _sha256(upload)
    upload.seek(0)
    try:
        stored = default_storage.save(f"{STORAGE_PREFIX}/{task.project_id}/{task.pk}/{uuid.uuid4().hex}", upload)
    except Exception as error:
        logger.exception("Could not store an upload to task %s.", task.pk)
        raise ServiceUnavailable(STORAGE_UNAVAILABLE, wait=5) from error
    try:
        with transaction.atomic():
            locked = task_row_lock(task_id=task.pk)
            with event_counter_held(task.project_id):
                if Attachment.objects.filter(task_id=task.pk).count() >= ATTACHMENTS_PER_TASK_MAX:
                    raise InvalidInput(f"A task has at most {ATTACHMENTS_PER_TASK_MAX} attachments.", field="file")
                attachment = Attachment.objects.create(
                    task_id=task.pk,
                    project_id=task.project_id,
                    file=stored,
                    filename=filename,
                    size=upload.size,
                    content_type=content_type_clean(getattr(upload, "content_type", None), filename),
                    sha256=sha256,
                    uploaded_by=actor,
                )
                attachment_changed.send(
                    sender=Attachment,
                    attachment=attachment,
                    task=locked,
                    actor=actor,
                    change=Change.CREATED,
                    payload=attachment_payload(attachment),
                    previous=None,
                )
    except BaseException:
        _file_delete_now(stored)
        raise
    return attachment


def attachment_remove(*, attachment: Attachment, actor: User, operator: bool = False) -> None:
    """Remove an attachment: its uploader, an admin or the owner. The file goes once this commits."""
    require_own_or_editor(
        attachment, owner_id=attachment.uploaded_by_id, actor=actor, operator=operator, what="attachments"
    )
    with transaction.atomic():
        locked = task_row_lock(task_id=attachment.task_id)
        current = Attachment.objects.select_for_update().filter(pk=attachment.pk).first()
        if current is None:
            raise NotFound()
        payload = attachment_payload(current)
        attachment_changed.send(
            sender=Attachment,
            attachment=current,
            task=locked,
            actor=actor,
            change=Change.DELETED,
            payload=payload,
            previous=payload,
        )
        files_delete_after_commit([current.file.name])
        current.delete()


def files_delete_after_commit(names: list[str]) -> None:
    """Delete these stored files once the current transaction commits: jobs enqueued in it (rows
    of the same database), so the deletion happens exactly when the transaction commits, even if
    this process dies right after."""
    for start in range(0, len(names), DELETE_BATCH):
        attachment_files_delete.enqueue(names[start : start + DELETE_BATCH])


def _file_delete_now(name: str) -> None:
    """Best effort, for a file whose row was never committed; the orphan sweep catches a failure."""
    try:
        default_storage.delete(name)
    except Exception:
        logger.exception("Could not delete the stored file %s of a failed upload; the orphan sweep will.", name)


def _sha256(upload) -> str:
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    return digest.hexdigest()
