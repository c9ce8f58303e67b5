"""Input of attachments (a multipart upload), and the API's description of their output."""

from rest_framework import serializers

from attachments.models import Attachment
from attachments.payloads import AttachmentPayload, attachment_payload


class AttachmentSerializer(serializers.ModelSerializer):
    sha256 = serializers.CharField(read_only=True, help_text="The SHA-256 of the file's bytes, in hex.")
    size = serializers.IntegerField(read_only=True, help_text="In bytes.")

    class Meta:
        model = Attachment
        fields = ["id", "task", "project", "filename", "size", "content_type", "sha256", "uploaded_by", "created_at"]
        read_only_fields = fields

    def to_representation(self, instance: Attachment) -> AttachmentPayload:
        return attachment_payload(instance)


class AttachmentUploadSerializer(serializers.Serializer):
    """`multipart/form-data` with the file in `file`; an empty file is allowed."""

    file = serializers.FileField(
        allow_empty_file=True,
        use_url=False,
        help_text="The file; its name is reduced to its last path component, at most 255 characters.",
    )
