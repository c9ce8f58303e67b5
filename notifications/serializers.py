"""The API's description of notifications (NotificationPayload) and of the list's query."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notifications.models import Notification, NotificationKind
from notifications.payloads import NotificationPayload, notification_payload

_NULLABLE_INTEGER = {"type": "integer", "nullable": True}
_NULLABLE_STRING = {"type": "string", "nullable": True}
# NotificationTaskPayload and MentionCommentPayload (notifications.payloads), for the schema.
_TASK = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "project": {"type": "integer"},
        "project_name": {"type": "string"},
        "title": {"type": "string"},
        "due_at": {**_NULLABLE_STRING, "format": "date-time"},
    },
    "required": ["id", "project", "project_name", "title", "due_at"],
}
_COMMENT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "author": _NULLABLE_INTEGER,
        "author_username": _NULLABLE_STRING,
        "body": {"type": "string"},
    },
    "required": ["id", "author", "author_username", "body"],
}


@extend_schema_field(
    {
        "type": "object",
        "properties": {"task": _TASK, "comment": _COMMENT},
        "required": ["task"],
        "description": (
            "What the notification showed when it was made: the task, and for `comment.mention` the comment too."
        ),
    }
)
class NotificationDataField(serializers.JSONField):
    pass


class NotificationSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=NotificationKind.choices, read_only=True)
    task = serializers.IntegerField(
        source="task_id",
        read_only=True,
        allow_null=True,
        help_text="The task it is about (an id: the task may have been deleted since).",
    )
    data = NotificationDataField(read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "project", "task", "actor", "at", "read_at", "data"]
        read_only_fields = fields

    def to_representation(self, instance: Notification) -> NotificationPayload:
        return notification_payload(instance)


class NotificationQuerySerializer(serializers.Serializer):
    # Exactly the two words documented: a query string is text, and "1" or "yes" are not asked for.
    unread = serializers.ChoiceField(
        choices=["true", "false"], required=False, help_text="`true`: only the notifications not read yet."
    )
