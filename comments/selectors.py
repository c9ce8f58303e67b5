"""Reads of comments, always scoped to the projects the caller belongs to."""

from django.db import connection
from django.db.models import QuerySet

from accounts.authentication import user_check
from accounts.models import User
from comments.models import Comment
from taskflow.db.rows import sql
from taskflow.errors import NotFound
from tasks.models import Project, Task
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


def comment_counts(*, project_id: int) -> tuple[int, dict[int, int]]:
    """The project's latest event seq, and how many comments each of its tasks has (tasks with
    none left out), as of that seq (the caller's access is checked before).

    One statement, so that both come from one snapshot of the database: the seq and the comments
    are written in the same transaction, so the counts include exactly the comment events up to
    that seq. A client that keeps the counts live from `comment.created` and `comment.deleted`
    applies only the events after it (two statements could count a comment whose event the client
    then applies again).
    """
    with connection.cursor() as cursor:
        cursor.execute(sql(_COUNTS, project=Project, comment=Comment), [project_id])
        rows = cursor.fetchall()
    if not rows:
        raise NotFound()  # the project was deleted since its access was checked
    return rows[0][0], {task_id: count for _, task_id, count in rows if task_id is not None}


_COUNTS = (
    "SELECT p.event_seq, c.task_id, COUNT(c.id) FROM {project} p"
    " LEFT JOIN {comment} c ON c.project_id = p.id"
    " WHERE p.id = %s GROUP BY p.event_seq, c.task_id"
)
