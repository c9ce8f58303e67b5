"""What an operator needs to know about a running TaskFlow, read in a handful of queries."""

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Max, Min, Q
from django.tasks.base import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from notifications.models import Reminder, ReminderStatus
from realtime.hub import SOCKET_CENSUS_PREFIX
from realtime.models import Event
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

RECENT = timedelta(hours=24)


def system_status(*, failures: int = 5) -> dict:
    """Event log, background jobs, reminders, webhooks and connected sockets, as plain data."""
    now = timezone.now()
    return {
        "at": now,
        "events": _events(now),
        "jobs": _jobs(now, failures=failures),
        "reminders": _reminders(now),
        "webhooks": _webhooks(now),
        "sockets": _sockets(),
    }


def _events(now) -> dict:
    log = Event.objects.aggregate(total=Count("id"), oldest=Min("created_at"), newest=Max("created_at"))
    cutoff = now - settings.TASKFLOW_EVENT_RETENTION
    return {
        **log,
        "projects": Event.objects.values("project_id").distinct().count(),
        "past_retention": Event.objects.filter(created_at__lt=cutoff).count(),
        "retention_days": settings.TASKFLOW_EVENT_RETENTION.days,
    }


def _jobs(now, *, failures: int) -> dict:
    jobs = DBTaskResult.objects.all()
    never = get_date_max()
    due = Q(status=TaskResultStatus.READY) & (Q(run_after__lte=now) | Q(run_after=never))
    counts = jobs.aggregate(
        due=Count("id", filter=due),
        scheduled=Count("id", filter=Q(status=TaskResultStatus.READY, run_after__gt=now) & ~Q(run_after=never)),
        running=Count("id", filter=Q(status=TaskResultStatus.RUNNING)),
        failed_recently=Count("id", filter=Q(status=TaskResultStatus.FAILED, finished_at__gte=now - RECENT)),
        succeeded_recently=Count("id", filter=Q(status=TaskResultStatus.SUCCESSFUL, finished_at__gte=now - RECENT)),
        oldest_due=Min("run_after", filter=due & ~Q(run_after=never)),
        oldest_due_enqueued=Min("enqueued_at", filter=due),
        longest_running_since=Min("started_at", filter=Q(status=TaskResultStatus.RUNNING)),
    )
    # How long the oldest due job has waited for a worker: the worker's lag.
    waiting_since = min(filter(None, [counts.pop("oldest_due"), counts.pop("oldest_due_enqueued")]), default=None)
    counts["lag_seconds"] = (now - waiting_since).total_seconds() if waiting_since else 0.0
    counts["next_runs"] = {
        path: run_after
        for path, run_after in jobs.filter(status=TaskResultStatus.READY)
        .values("task_path")
        .annotate(next=Min("run_after"))
        .values_list("task_path", "next")
    }
    counts["recent_failures"] = [
        {"id": str(job.id), "task": job.task_path, "finished_at": job.finished_at, "error": job.exception_class_path}
        for job in jobs.filter(status=TaskResultStatus.FAILED).order_by("-finished_at")[:failures]
    ]
    return counts


def _reminders(now) -> dict:
    return Reminder.objects.aggregate(
        pending=Count("id", filter=Q(status=ReminderStatus.PENDING)),
        overdue=Count("id", filter=Q(status=ReminderStatus.PENDING, remind_at__lt=now - timedelta(minutes=5))),
        sent_recently=Count("id", filter=Q(status=ReminderStatus.SENT, sent_at__gte=now - RECENT)),
        failed=Count("id", filter=Q(status=ReminderStatus.FAILED)),
    )


def _webhooks(now) -> dict:
    endpoints = WebhookEndpoint.objects.aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(is_active=True)),
        # Active endpoints with events recorded but not yet turned into deliveries.
        behind=Count("id", filter=Q(is_active=True, last_seq__lt=F("project__event_seq"))),
    )
    deliveries = WebhookDelivery.objects.aggregate(
        pending=Count("id", filter=Q(status=DeliveryStatus.PENDING)),
        failed_recently=Count("id", filter=Q(status=DeliveryStatus.FAILED, created_at__gte=now - RECENT)),
        succeeded_recently=Count("id", filter=Q(status=DeliveryStatus.SUCCEEDED, created_at__gte=now - RECENT)),
    )
    return {"endpoints": endpoints, "deliveries": deliveries}


def _sockets() -> dict | None:
    """Signed-in WebSockets per server process, as the processes report them through the cache.

    None when the cache is not shared (the embedded default): other processes cannot be seen.
    """
    if not hasattr(cache, "iter_keys"):
        return None
    keys = list(cache.iter_keys(f"{SOCKET_CENSUS_PREFIX}*"))
    reports = cache.get_many(keys) if keys else {}
    processes = {key.removeprefix(SOCKET_CENSUS_PREFIX): report for key, report in sorted(reports.items())}
    return {"total": sum(report["sockets"] for report in processes.values()), "processes": processes}
