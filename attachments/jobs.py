"""Background jobs of attachments: deleting stored files once their rows are gone, and the sweep
that removes files no row refers to (left by a process that died during an upload)."""

import logging
from datetime import timedelta

from django.core.files.storage import default_storage
from django.tasks import task
from django.utils import timezone

from attachments.models import STORAGE_PREFIX, Attachment

logger = logging.getLogger(__name__)

# A stored file without a row is an orphan only when older than this: an upload stores its file
# just before the transaction that inserts its row.
ORPHAN_AGE = timedelta(hours=1)


@task
def attachment_files_delete(names: list[str]) -> int:
    """Delete stored files whose attachments were deleted (enqueued by the deleting transaction).

    A file already gone counts as deleted; a name that a row still refers to (it cannot be, but
    the check is cheap) is kept. Raises on a storage failure, so that the job is retried.
    """
    referred = set(Attachment.objects.filter(file__in=names).values_list("file", flat=True))
    deleted = 0
    for name in names:
        if name not in referred:
            default_storage.delete(name)
            deleted += 1
    return deleted


@task
def attachment_orphans_sweep() -> int:
    """Delete stored files under attachments/ that no attachment refers to, once ORPHAN_AGE old."""
    return orphans_delete(older_than=timezone.now() - ORPHAN_AGE)


def orphans_delete(*, older_than) -> int:
    deleted = 0
    for names in _stored_names(STORAGE_PREFIX):
        referred = set(Attachment.objects.filter(file__in=names).values_list("file", flat=True))
        for name in names:
            if name in referred or default_storage.get_modified_time(name) >= older_than:
                continue
            logger.warning("Deleting the orphaned stored file %s (no attachment refers to it).", name)
            default_storage.delete(name)
            deleted += 1
    return deleted


def _stored_names(folder: str):
    """The names of the files under `folder` in the storage, a folder at a time (lists of names)."""
    try:
        folders, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    if files:
        yield [f"{folder}/{name}" for name in files]
    for name in folders:
        yield from _stored_names(f"{folder}/{name}")
