"""Receivers of the domain signals that record every change to projects, members and tasks as events.

They run inside the writer's transaction (the services send the signals there), so an event
exists exactly when its change is committed; realtime.events publishes it after the commit. Which
event type records which change is the catalogue's (realtime.catalogue).
"""

from django.dispatch import receiver

from realtime.catalogue import event_type_of
from realtime.events import event_append
from tasks.signals import member_changed, project_changed, task_changed


def _record(signal, *, project_id: int, change, payload: dict, actor) -> None:
    event_append(
        project_id=project_id,
        event_type=event_type_of(signal, change),
        data=payload,
        actor_id=actor.pk if actor is not None else None,
    )


@receiver(task_changed, dispatch_uid="realtime.task_changed")
def task_event(sender, *, task, change, payload, actor, **kwargs) -> None:
    _record(task_changed, project_id=task.project_id, change=change, payload=payload, actor=actor)


@receiver(project_changed, dispatch_uid="realtime.project_changed")
def project_event(sender, *, project, change, payload, actor, **kwargs) -> None:
    _record(project_changed, project_id=project.pk, change=change, payload=payload, actor=actor)


@receiver(member_changed, dispatch_uid="realtime.member_changed")
def member_event(sender, *, membership, change, payload, actor, **kwargs) -> None:
    _record(member_changed, project_id=membership.project_id, change=change, payload=payload, actor=actor)
