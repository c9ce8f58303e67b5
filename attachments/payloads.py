"""The shape in which attachments leave TaskFlow: one typed payload, for the API and the events."""

from typing import TypedDict

from attachments.models import Attachment
from taskflow.times import datetime_text


class AttachmentPayload(TypedDict):
    """An attachment's metadata: `GET /api/attachments/{id}/`, and the data of `attachment.*` events."""

    id: int
    task: int
    project: int
    filename: str
    size: int
    content_type: str
    sha256: str
    uploaded_by: int | None
    created_at: str


def attachment_payload(attachment: Attachment) -> AttachmentPayload:
    return {
        "id": attachment.pk,
        "task": attachment.task_id,
        "project": attachment.project_id,
        "filename": attachment.filename,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "sha256": attachment.sha256,
        "uploaded_by": attachment.uploaded_by_id,
        "created_at": datetime_text(attachment.created_at),
    }
