"""Writes to comments: one function per use case, each one transaction that sends `comment_changed`.

Members, admins and the owner comment; viewers read. Only the author edits a comment; the author,
an admin or the owner deletes it. Objects come from the selectors with the actor's `role`.

Lock order (tasks.services._change_by): the task's row first (`task_row_lock`: a task deleted
meanwhile is a 404), then the project's event counter. A new comment is a row of the project, so
its writer holds the counter from the start (tasks.event_counter.event_counter_held).
"""

from django.db import transaction

from accounts.models import User
from comments.mentions import mentions_resolve
from comments.models import Comment
from comments.payloads import comment_payload
from comments.signals import comment_changed
from taskflow.errors import AccessDenied, NotFound
from tasks.event_counter import event_counter_held
from tasks.models import TASK_WRITERS, Task
from tasks.services import require_own_or_editor, require_role, task_row_lock
from tasks.signals import Change


def comment_create(*, task: Task, actor: User, body: str, operator: bool = False) -> Comment:
    """Comment on `task` (read with the actor's role); the members it mentions are notified."""
    require_role(task, TASK_WRITERS, operator=operator, action="comment")
    with transaction.atomic():
        locked = task_row_lock(task_id=task.pk)
        with event_counter_held(task.project_id):
            mentions = mentions_resolve(project_id=task.project_id, body=body)
            comment = Comment.objects.create(
                task=locked, project_id=task.project_id, author=actor, body=body, mentions=mentions
            )
            _changed(comment, actor=actor, change=Change.CREATED, previous=None, mentioned=mentions)
    return comment


def comment_update(*, comment: Comment, actor: User, body: str, operator: bool = False) -> Comment:
    """Change a comment's body (its author only); members it mentions for the first time are notified."""
    if not operator and comment.author_id != actor.pk:
        raise AccessDenied("Only the author of a comment can edit it.")
    require_role(comment, TASK_WRITERS, operator=operator, action="edit comments")
    with transaction.atomic():
        current = _comment_lock(comment)
        if current.body == body:
            return current
        previous = comment_payload(current)
        current.body = body
        current.mentions = mentions_resolve(project_id=current.project_id, body=body)
        current.save(update_fields=["body", "mentions", "updated_at"])
        mentioned = [user_id for user_id in current.mentions if user_id not in previous["mentions"]]
        _changed(current, actor=actor, change=Change.UPDATED, previous=previous, mentioned=mentioned)
    return current


def comment_delete(*, comment: Comment, actor: User, operator: bool = False) -> None:
    """Delete a comment: its author, an admin or the owner."""
    require_own_or_editor(comment, owner_id=comment.author_id, actor=actor, operator=operator, what="comments")
    with transaction.atomic():
        current = _comment_lock(comment)
        payload = comment_payload(current)
        comment_changed.send(
            sender=Comment,
            comment=current,
            task=current.task,
            actor=actor,
            change=Change.DELETED,
            payload=payload,
            previous=payload,
            mentioned=[],
        )
        current.delete()


def user_comments_unattribute(*, user: User, actor: User | None) -> None:
    """Before a user account is deleted (accounts' `user_deleting`): their comments stay, without
    an author, each with a `comment.updated` event, instead of the database's silent SET NULL."""
    with transaction.atomic():
        for comment in Comment.objects.filter(author=user).order_by("project_id", "task_id", "id"):
            current = _comment_lock(comment)
            previous = comment_payload(current)
            current.author = None
            current.save(update_fields=["author", "updated_at"])
            _changed(current, actor=actor, change=Change.UPDATED, previous=previous, mentioned=[])


def _comment_lock(comment: Comment) -> Comment:
    """The comment's current row, locked after its task's (the lock order), with that task as it
    is now (`current.task`, for the signal); 404 if either is gone."""
    task = task_row_lock(task_id=comment.task_id)
    current = Comment.objects.select_for_update().filter(pk=comment.pk).first()
    if current is None:
        raise NotFound()
    current.task = task
    current.role = getattr(comment, "role", None)
    return current


def _changed(comment: Comment, *, actor: User | None, change: Change, previous, mentioned: list[int]) -> None:
    comment_changed.send(
        sender=Comment,
        comment=comment,
        task=comment.task,  # locked with the comment: as it is now
        actor=actor,
        change=change,
        payload=comment_payload(comment),
        previous=previous,
        # Never the author: nobody is notified of their own comment.
        mentioned=[user_id for user_id in mentioned if actor is None or user_id != actor.pk],
    )
