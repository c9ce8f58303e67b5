"""Attachment endpoints: `/api/tasks/{task_id}/attachments/` and `/api/attachments/{id}/[download/]`."""

from django.core.exceptions import TooManyFilesSent
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from attachments import selectors, services
from attachments.models import Attachment
from attachments.serializers import AttachmentSerializer, AttachmentUploadSerializer
from attachments.uploads import UploadHandler
from taskflow.openapi import error_response
from tasks.selectors import task_get_for_user


class TaskAttachmentsView(generics.ListCreateAPIView):
    """A task's attachments in upload order; members, admins and the owner upload."""

    serializer_class = AttachmentSerializer
    queryset = Attachment.objects.none()  # for the schema; requests use get_queryset()
    parser_classes = [MultiPartParser]

    def caller_read(self) -> None:
        """The task, read with the caller's role and row (accounts.permissions): one query."""
        self.task = task_get_for_user(user=self.request.user, task_id=int(self.kwargs["task_id"]))

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.attachment_list(task=self.task)

    @extend_schema(
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={
            201: AttachmentSerializer,
            413: error_response("The file is larger than TASKFLOW_MAX_UPLOAD_BYTES."),
        },
    )
    def post(self, request, task_id):
        # Before a byte of the body is parsed: a viewer's upload, or one too many, is refused as is.
        services.attachment_upload_check(task=self.task, actor=request.user)
        request.upload_handlers = [UploadHandler(request)]
        try:
            data = request.data
        except TooManyFilesSent:
            raise ParseError("Send one file, in the `file` field.") from None
        upload = AttachmentUploadSerializer(data=data)
        upload.is_valid(raise_exception=True)
        attachment = services.attachment_add(task=self.task, actor=request.user, upload=upload.validated_data["file"])
        return Response(self.get_serializer(attachment).data, status=status.HTTP_201_CREATED)


class AttachmentView(generics.GenericAPIView):
    """One attachment's metadata; its uploader, an admin or the owner removes it."""

    serializer_class = AttachmentSerializer

    def caller_read(self) -> None:
        self.attachment = selectors.attachment_get_for_user(
            user=self.request.user, attachment_id=int(self.kwargs["attachment_id"])
        )

    def get(self, request, attachment_id):
        return Response(self.get_serializer(self.attachment).data)

    def delete(self, request, attachment_id):
        services.attachment_remove(attachment=self.attachment, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AttachmentDownloadView(AttachmentView):
    """The file's bytes, to members only: as an attachment (never shown in TaskFlow's origin), with
    the stored content type and `nosniff`."""

    def perform_content_negotiation(self, request, force=False):
        # The body is the file, whatever the client accepts; errors are JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        responses={
            (200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The file, in its stored content type.")
        }
    )
    def get(self, request, attachment_id):
        attachment = self.attachment
        response = FileResponse(
            selectors.attachment_file_open(attachment),
            as_attachment=True,
            filename=attachment.filename,
            content_type=attachment.content_type,
        )
        response["Content-Length"] = str(attachment.size)
        response["X-Content-Type-Options"] = "nosniff"
        # Even opened directly, the file runs no script and loads nothing in TaskFlow's origin.
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, no-store"
        return response
