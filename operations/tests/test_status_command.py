"""`manage.py status` as an operator reads it: counts that match the system, and a lag check."""

import io
import json
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.management import CommandError, call_command
from django.tasks.base import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from notifications.jobs import reminder_send
from operations.jobs import prune
from realtime.hub import ProjectHub
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


def status(*args) -> str:
    out = io.StringIO()
    call_command("status", *args, stdout=out)
    return out.getvalue()


def status_json() -> dict:
    return json.loads(status("--json"))


def test_status_counts_the_event_log(project):
    make_task(project=project)
    make_task(project=project)
    assert status_json()["events"]["total"] == 3
    assert "Event log: 3 events in 1 projects" in status()


def test_status_shows_due_scheduled_and_failed_jobs(run_jobs, add_member, project):
    member = add_member("member")
    # A reminder later (the member's own task: no assignment notification job).
    make_task(project=project, actor=member, assignee=member.pk, due_at=timezone.now() + timedelta(hours=5))
    prune.enqueue()  # due now
    failed = DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path="notifications.jobs.reminder_send",
        backend_name="default",
        run_after=timezone.now(),
        status=TaskResultStatus.FAILED,
        finished_at=timezone.now(),
        exception_class_path="smtplib.SMTPServerDisconnected",
        traceback="...",
    )

    jobs = status_json()["jobs"]
    assert (jobs["due"], jobs["scheduled"], jobs["running"], jobs["failed_recently"]) == (1, 1, 0, 1)
    assert jobs["recent_failures"][0]["id"] == str(failed.id)
    assert jobs["recent_failures"][0]["error"] == "smtplib.SMTPServerDisconnected"
    text = status()
    assert "Jobs: 1 due, 1 scheduled, 0 running; last 24 h: 0 succeeded, 1 failed" in text
    assert "smtplib.SMTPServerDisconnected" in text
    assert "Reminders: 1 pending" in text


def test_max_lag_fails_when_a_due_job_waited_too_long():
    reminder_send.using(run_after=timezone.now() - timedelta(minutes=10)).enqueue(1)
    with pytest.raises(CommandError, match="The worker is behind"):
        status("--max-lag", "60")
    assert status_json()["jobs"]["lag_seconds"] >= 600


def test_max_lag_passes_when_the_worker_keeps_up(run_jobs):
    prune.enqueue()
    run_jobs()
    status("--max-lag", "60")


def test_without_a_shared_cache_sockets_are_unknown(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert status_json()["sockets"] is None
    assert "WebSockets: unknown" in status()


@pytest.mark.django_db(transaction=True)
async def test_with_redis_server_processes_report_their_signed_in_sockets(settings, signed_in, user):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/0",
            "KEY_PREFIX": f"status-test-{uuid.uuid4().hex}",
        }
    }
    await signed_in(user)
    await signed_in(user)
    await ProjectHub.current()._report_sockets()
    sockets = (await sync_to_async(status_json)())["sockets"]
    assert sockets["total"] == 2
    assert [report["sockets"] for report in sockets["processes"].values()] == [2]
