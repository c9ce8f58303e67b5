"""Routes of the attachment API, included under /api/."""

from django.urls import re_path

from attachments.api import AttachmentDownloadView, AttachmentView, TaskAttachmentsView
from tasks.api import ID_PATTERN

urlpatterns = [
    re_path(rf"^tasks/(?P<task_id>{ID_PATTERN})/attachments/$", TaskAttachmentsView.as_view(), name="task-attachments"),
    re_path(rf"^attachments/(?P<attachment_id>{ID_PATTERN})/$", AttachmentView.as_view(), name="attachment"),
    re_path(
        rf"^attachments/(?P<attachment_id>{ID_PATTERN})/download/$",
        AttachmentDownloadView.as_view(),
        name="attachment-download",
    ),
]
