"""Housekeeping jobs: pruning the event log and the records of finished jobs."""

from django.conf import settings
from django.tasks import task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from realtime.services import events_prune


@task
def prune() -> dict:
    """Delete events older than TASKFLOW_EVENT_RETENTION and finished jobs older than
    TASKFLOW_JOB_RETENTION (which stay visible in the admin and `manage.py status` until then)."""
    events = events_prune()
    cutoff = timezone.now() - settings.TASKFLOW_JOB_RETENTION
    jobs = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).delete()[0]
    return {"events": events, "jobs": jobs}
