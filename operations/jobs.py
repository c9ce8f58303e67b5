"""Housekeeping jobs: pruning the event log, the records of finished jobs and of webhook deliveries."""

from django.conf import settings
from django.tasks import task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from realtime.services import events_prune
from webhooks.models import DeliveryStatus, WebhookDelivery


@task
def prune() -> dict:
    """Delete events older than TASKFLOW_EVENT_RETENTION, and finished jobs and webhook deliveries
    older than TASKFLOW_JOB_RETENTION (visible in the admin and `manage.py status` until then)."""
    events = events_prune()
    cutoff = timezone.now() - settings.TASKFLOW_JOB_RETENTION
    jobs = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).delete()[0]
    finished = WebhookDelivery.objects.exclude(status=DeliveryStatus.PENDING).filter(created_at__lt=cutoff)
    # Redeliveries point at what they repeat (SET NULL), so the oldest go without blocking anything.
    deliveries = finished.delete()[0]
    return {"events": events, "jobs": jobs, "deliveries": deliveries}
