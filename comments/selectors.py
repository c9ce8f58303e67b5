"""Reads of comments, always scoped to the projects the caller belongs to."""

from django.db.models import QuerySet

from accounts.authentication import user_check
from accounts.models import User
from comments.models import Comment
from taskflow.errors import NotFound
from tasks.models import Task
from tasks.selectors import in_projects_of


def comment_list(*, task: Task) -> QuerySet[Comment]:
    """A task's comments, oldest first (the task comes from tasks.selectors, scoped already)."""
    return Comment.objects.filter(task=task).order_by("id")


def comment_get_for_user(*, user: User, comment_id: int) -> Comment:
    """One comment of a project the user belongs to, with the user's `role` there; else 404."""
    user_check(user)
    comment = in_projects_of(Comment.objects.filter(pk=comment_id), user=user).first()
    if comment is None:
        raise NotFound()
    return comment
