"""Signal receivers that record every change to projects, members and tasks in the event log.

They run inside the writer's transaction, so an event exists exactly when its change is committed.
A project's deletion takes its whole log with it, so the deletes it cascades to are not recorded.
"""

from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from realtime.events import event_append
from realtime.models import EventType
from tasks.models import Membership, Project, Task
from tasks.serializers import MemberSerializer, ProjectEventDataSerializer, TaskSerializer


def _cascaded_from_project(origin) -> bool:
    """Whether a delete is part of deleting projects (one, or a queryset of them in the admin)."""
    return isinstance(origin, Project) or (isinstance(origin, QuerySet) and origin.model is Project)


def task_recorded(task: Task, *, created: bool) -> None:
    """Append `task.created` or `task.updated` with the task as it is now. The receiver of Task
    saves calls it, and so do writers that update a task's row without save()."""
    event_type = EventType.TASK_CREATED if created else EventType.TASK_UPDATED
    event_append(project_id=task.project_id, event_type=event_type, data=TaskSerializer(task).data)


@receiver(post_save, sender=Task, dispatch_uid="realtime.task_saved")
def task_saved(sender, instance: Task, created: bool, raw: bool = False, **kwargs) -> None:
    if not raw:
        task_recorded(instance, created=created)


@receiver(post_delete, sender=Task, dispatch_uid="realtime.task_deleted")
def task_deleted(sender, instance: Task, origin=None, **kwargs) -> None:
    if _cascaded_from_project(origin):
        return
    event_append(
        project_id=instance.project_id,
        event_type=EventType.TASK_DELETED,
        data={"id": instance.pk, "project": instance.project_id},
    )


@receiver(post_save, sender=Project, dispatch_uid="realtime.project_saved")
def project_saved(sender, instance: Project, created: bool, raw: bool = False, **kwargs) -> None:
    # A new project's first event is its owner's membership (member.added).
    if raw or created:
        return
    event_append(
        project_id=instance.pk, event_type=EventType.PROJECT_UPDATED, data=ProjectEventDataSerializer(instance).data
    )


@receiver(post_save, sender=Membership, dispatch_uid="realtime.membership_saved")
def membership_saved(sender, instance: Membership, created: bool, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    event_type = EventType.MEMBER_ADDED if created else EventType.MEMBER_UPDATED
    event_append(project_id=instance.project_id, event_type=event_type, data=MemberSerializer(instance).data)


@receiver(post_delete, sender=Membership, dispatch_uid="realtime.membership_deleted")
def membership_deleted(sender, instance: Membership, origin=None, **kwargs) -> None:
    if _cascaded_from_project(origin):
        return
    event_append(
        project_id=instance.project_id, event_type=EventType.MEMBER_REMOVED, data=MemberSerializer(instance).data
    )
