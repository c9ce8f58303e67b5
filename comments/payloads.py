"""The shape in which comments leave TaskFlow: one typed payload, for the API and the events."""

from typing import TypedDict

from comments.models import Comment
from taskflow.times import datetime_text


class CommentPayload(TypedDict):
    """A comment: `GET /api/tasks/{id}/comments/`, and the data of `comment.*` events."""

    id: int
    task: int
    project: int
    author: int | None
    body: str
    mentions: list[int]
    created_at: str
    updated_at: str


def comment_payload(comment: Comment) -> CommentPayload:
    return {
        "id": comment.pk,
        "task": comment.task_id,
        "project": comment.project_id,
        "author": comment.author_id,
        "body": comment.body,
        "mentions": list(comment.mentions),
        "created_at": datetime_text(comment.created_at),
        "updated_at": datetime_text(comment.updated_at),
    }
