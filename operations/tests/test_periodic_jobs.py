"""Periodic jobs: the worker keeps exactly one waiting run of each, and the prune job prunes."""

from datetime import timedelta

import pytest
from django.tasks.base import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from operations.jobs import prune
from operations.periodic import PERIODIC_JOBS, periodic_schedule_all
from realtime.models import Event
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db


def waiting_runs() -> dict[str, int]:
    rows = DBTaskResult.objects.filter(status=TaskResultStatus.READY).values_list("task_path", flat=True)
    return {path: list(rows).count(path) for path in set(rows)}


def test_worker_start_schedules_every_periodic_job_once():
    assert sorted(periodic_schedule_all()) == sorted(PERIODIC_JOBS)
    assert periodic_schedule_all() == []
    assert waiting_runs() == dict.fromkeys(PERIODIC_JOBS, 1)


def test_a_finished_run_schedules_the_next_one_after_its_interval(run_jobs):
    periodic_schedule_all()
    before = timezone.now()
    run_jobs()
    assert waiting_runs() == dict.fromkeys(PERIODIC_JOBS, 1)
    for path, every in PERIODIC_JOBS.items():
        next_run = DBTaskResult.objects.get(task_path=path, status=TaskResultStatus.READY).run_after
        assert before + every <= next_run <= timezone.now() + every


def test_duplicate_runs_die_out(run_jobs):
    prune.enqueue()
    prune.enqueue()
    run_jobs()
    assert waiting_runs() == {"operations.jobs.prune": 1}


def test_prune_job_deletes_events_and_finished_jobs_past_their_retention(project, run_jobs, settings):
    old_job = prune.enqueue()
    run_jobs()
    DBTaskResult.objects.filter(pk=old_job.id).update(
        finished_at=timezone.now() - settings.TASKFLOW_JOB_RETENTION - timedelta(minutes=1)
    )
    make_task(project=project, title="old")
    make_task(project=project, title="recent")
    long_ago = timezone.now() - settings.TASKFLOW_EVENT_RETENTION - timedelta(minutes=1)
    Event.objects.filter(project=project, seq__in=[1, 2]).update(created_at=long_ago)

    job = prune.enqueue()
    run_jobs()

    assert list(Event.objects.filter(project=project).values_list("seq", flat=True)) == [3]
    assert not DBTaskResult.objects.filter(pk=old_job.id).exists()
    assert DBTaskResult.objects.get(pk=job.id).return_value == {"events": 2, "jobs": 1, "deliveries": 0}


def test_prune_job_deletes_finished_webhook_deliveries_past_the_job_retention(project, run_jobs, settings):
    from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

    endpoint = WebhookEndpoint.objects.create(project=project, url="http://hooks.example.test/", secret="s" * 20)
    old = timezone.now() - settings.TASKFLOW_JOB_RETENTION - timedelta(minutes=1)
    kept = {}
    for status in DeliveryStatus.values:
        for age, created_at in (("old", old), ("new", timezone.now())):
            delivered_at = timezone.now() if status == DeliveryStatus.SUCCEEDED else None
            delivery = WebhookDelivery.objects.create(
                endpoint=endpoint,
                seq=1,
                event_type="task.created",
                payload={},
                status=status,
                delivered_at=delivered_at,
            )
            WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=created_at)
            kept[(status, age)] = delivery.pk

    prune.enqueue()
    run_jobs()

    remaining = set(WebhookDelivery.objects.values_list("pk", flat=True))
    assert remaining == {kept[key] for key in kept if key[1] == "new" or key[0] == DeliveryStatus.PENDING}
