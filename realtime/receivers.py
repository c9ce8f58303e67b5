"""Receivers of the domain signals: every change is recorded as an event, and in the activity history.

They run inside the writer's transaction (the services send the signals there), so an event and
its history entry exist exactly when their change is committed; realtime.events publishes the
event after the commit. Which event type records which change, and which types the history keeps,
is the catalogue's (realtime.catalogue).
"""

from django.dispatch import receiver

from attachments.signals import attachment_changed
from comments.signals import comment_changed
from realtime.activity import activity_append, activity_changes
from realtime.catalogue import event_kind_of
from realtime.events import event_append
from tasks.signals import Change, member_changed, project_changed, task_changed


def _record(signal, *, project_id: int, task_id: int | None, change, payload: dict, previous, actor) -> None:
    kind = event_kind_of(signal, change)
    event = event_append(
        project_id=project_id,
        event_type=kind.type,
        data=payload,
        actor_id=actor.pk if actor is not None else None,
    )
    if kind.history:
        changes = activity_changes(change=change, payload=payload, previous=previous)
        activity_append(event=event, task_id=task_id, changes=changes)


@receiver(task_changed, dispatch_uid="realtime.task_changed")
def task_event(sender, *, task, change, payload, previous, actor, **kwargs) -> None:
    _record(
        task_changed,
        project_id=task.project_id,
        task_id=task.pk,
        change=change,
        payload=payload,
        previous=previous,
        actor=actor,
    )


@receiver(project_changed, dispatch_uid="realtime.project_changed")
def project_event(sender, *, project, change, payload, previous, actor, **kwargs) -> None:
    if change == Change.DELETED:
        return  # the project's event log and history go with it
    _record(
        project_changed,
        project_id=project.pk,
        task_id=None,
        change=change,
        payload=payload,
        previous=previous,
        actor=actor,
    )


@receiver(member_changed, dispatch_uid="realtime.member_changed")
def member_event(sender, *, membership, change, payload, previous, actor, **kwargs) -> None:
    _record(
        member_changed,
        project_id=membership.project_id,
        task_id=None,
        change=change,
        payload=payload,
        previous=previous,
        actor=actor,
    )


@receiver(comment_changed, dispatch_uid="realtime.comment_changed")
def comment_event(sender, *, comment, change, payload, previous, actor, **kwargs) -> None:
    _record(
        comment_changed,
        project_id=comment.project_id,
        task_id=comment.task_id,
        change=change,
        payload=payload,
        previous=previous,
        actor=actor,
    )


@receiver(attachment_changed, dispatch_uid="realtime.attachment_changed")
def attachment_event(sender, *, attachment, change, payload, previous, actor, **kwargs) -> None:
    _record(
        attachment_changed,
        project_id=attachment.project_id,
        task_id=attachment.task_id,
        change=change,
        payload=payload,
        previous=previous,
        actor=actor,
    )
