"""Input of comments, and the API's description of their output (CommentPayload)."""

from rest_framework import serializers

from comments.models import COMMENT_BODY_MAX, Comment
from comments.payloads import CommentPayload, comment_payload
from taskflow.fields import StrictCharField


class CommentSerializer(serializers.ModelSerializer):
    # Stored as written: leading and trailing spaces are the author's (a body of spaces only is blank).
    body = StrictCharField(max_length=COMMENT_BODY_MAX, trim_whitespace=False)
    mentions = serializers.ListField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="Ids of the project's members named as `@username` in the body, in order of first mention.",
    )

    class Meta:
        model = Comment
        fields = ["id", "task", "project", "author", "body", "mentions", "created_at", "updated_at"]
        read_only_fields = ["id", "task", "project", "author", "mentions", "created_at", "updated_at"]

    def validate_body(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def to_representation(self, instance: Comment) -> CommentPayload:
        return comment_payload(instance)


class TaskCommentCountSerializer(serializers.Serializer):
    task = serializers.IntegerField(help_text="A task of the project.")
    count = serializers.IntegerField(help_text="How many comments it has (at least one).")


class CommentCountsSerializer(serializers.Serializer):
    """How many comments each task of a project has, as of the project's event seq `event_seq`."""

    event_seq = serializers.IntegerField(
        help_text="The project's event seq the counts are true at: apply only the comment events after it."
    )
    counts = TaskCommentCountSerializer(many=True, help_text="The tasks that have comments, by task id.")
