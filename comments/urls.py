"""Routes of the comment API, included under /api/."""

from django.urls import re_path

from comments.api import CommentView, ProjectCommentCountsView, TaskCommentsView
from tasks.api import ID_PATTERN

urlpatterns = [
    re_path(rf"^tasks/(?P<task_id>{ID_PATTERN})/comments/$", TaskCommentsView.as_view(), name="task-comments"),
    re_path(rf"^comments/(?P<comment_id>{ID_PATTERN})/$", CommentView.as_view(), name="comment"),
    re_path(
        rf"^projects/(?P<project_id>{ID_PATTERN})/comment-counts/$",
        ProjectCommentCountsView.as_view(),
        name="project-comment-counts",
    ),
]
