"""Comment endpoints: `/api/tasks/{task_id}/comments/`, `/api/comments/{id}/`, and a project's
comment counts, `/api/projects/{project_id}/comment-counts/`."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from comments import selectors, services
from comments.models import Comment
from comments.serializers import CommentCountsSerializer, CommentSerializer
from taskflow.errors import NotFound
from tasks.selectors import project_event_seq_for_user, task_get_for_user


class TaskCommentsView(generics.ListCreateAPIView):
    """A task's comments, oldest first; members, admins and the owner comment."""

    serializer_class = CommentSerializer
    queryset = Comment.objects.none()  # for the schema; requests use get_queryset()

    def caller_read(self) -> None:
        """The task, read with the caller's role and row (accounts.permissions): one query."""
        self.task = task_get_for_user(user=self.request.user, task_id=int(self.kwargs["task_id"]))

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.comment_list(task=self.task)

    def perform_create(self, serializer):
        body = serializer.validated_data["body"]
        serializer.instance = services.comment_create(task=self.task, actor=self.request.user, body=body)


class CommentView(generics.GenericAPIView):
    """One comment: its author edits it; the author, an admin or the owner deletes it."""

    serializer_class = CommentSerializer

    def caller_read(self) -> None:
        self.comment = selectors.comment_get_for_user(user=self.request.user, comment_id=int(self.kwargs["comment_id"]))

    def get(self, request, comment_id):
        return Response(self.get_serializer(self.comment).data)

    def patch(self, request, comment_id):
        serializer = self.get_serializer(self.comment, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        body = serializer.validated_data.get("body", self.comment.body)
        comment = services.comment_update(comment=self.comment, actor=request.user, body=body)
        return Response(self.get_serializer(comment).data)

    def delete(self, request, comment_id):
        services.comment_delete(comment=self.comment, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectCommentCountsView(APIView):
    """How many comments each task of a project has, for a board that shows them on every card
    without a request per task. Tasks without comments are left out. `event_seq` is the seq the
    counts are true at: a client keeps them live by applying the `comment.created` and
    `comment.deleted` events after it. Costs nothing elsewhere: the task list and the writes are
    unchanged."""

    def caller_read(self) -> None:
        """Whether the caller is a member, read with the caller's row (accounts.permissions)."""
        self.event_seq = project_event_seq_for_user(user=self.request.user, project_id=self.kwargs["project_id"])

    @extend_schema(responses={200: CommentCountsSerializer})
    def get(self, request, project_id):
        if self.event_seq is None:
            raise NotFound()
        event_seq, counts = selectors.comment_counts(project_id=int(project_id))
        answer = {"event_seq": event_seq, "counts": [{"task": task, "count": n} for task, n in sorted(counts.items())]}
        return Response(CommentCountsSerializer(answer).data)
