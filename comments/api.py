"""Comment endpoints: `/api/tasks/{task_id}/comments/` and `/api/comments/{id}/`."""

from rest_framework import generics, status
from rest_framework.response import Response

from comments import selectors, services
from comments.models import Comment
from comments.serializers import CommentSerializer
from tasks.selectors import task_get_for_user


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
