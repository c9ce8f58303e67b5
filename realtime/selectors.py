"""Reads of the event log and of the activity history."""

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from realtime.models import Activity, Event
from tasks.models import Project, Task


class EventsPruned(Exception):
    """The events after the requested seq are no longer all in the log."""


def event_list_since(*, project: Project, since: int, limit: int) -> list[Event]:
    """Up to `limit` events of `project` with seq > `since`, in order.

    Raises EventsPruned when some of them were removed by retention: the client must reload.
    """
    if since < project.event_seq:
        first_retained = Event.objects.filter(project=project).order_by("seq").values_list("seq", flat=True).first()
        if first_retained is None or first_retained > since + 1:
            raise EventsPruned()
    return list(Event.objects.filter(project=project, seq__gt=since).order_by("seq")[:limit])


def events_expired() -> QuerySet[Event]:
    """Events older than the retention period (TASKFLOW_EVENT_RETENTION)."""
    return Event.objects.filter(created_at__lt=timezone.now() - settings.TASKFLOW_EVENT_RETENTION)


def activity_of_project(*, project: Project) -> QuerySet[Activity]:
    """A project's history, newest first: its tasks' (deleted ones' too), comments', attachments'
    and members' changes. The project comes from tasks.selectors, scoped to the caller."""
    return Activity.objects.filter(project=project).order_by("-id")


def activity_of_task(*, task: Task) -> QuerySet[Activity]:
    """A task's history, newest first (the task comes from tasks.selectors, scoped to the caller)."""
    return Activity.objects.filter(task_id=task.pk).order_by("-id")
