"""Jobs that run on a schedule: each run, once finished, enqueues the next one.

The Tasks framework has no scheduler, so a periodic job keeps exactly one waiting run of itself in
the job table: `manage.py worker` enqueues the first at start-up when none is waiting, and the
`task_finished` receiver here enqueues the next after every run, whether it succeeded or failed.
Several workers may start at once; a second waiting run is never added, so duplicates die out.
"""

from datetime import timedelta

from django.dispatch import receiver
from django.tasks import Task
from django.tasks.base import TaskResultStatus
from django.tasks.signals import task_finished
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult

# Dotted path of each periodic job, and how long after one run finishes the next is due.
PERIODIC_JOBS: dict[str, timedelta] = {
    "operations.jobs.prune": timedelta(hours=1),
    "webhooks.jobs.webhooks_sweep": timedelta(minutes=1),
    "attachments.jobs.attachment_orphans_sweep": timedelta(hours=1),
    "accounts.jobs.idempotent_requests_prune": timedelta(hours=1),
}


def _waiting(path: str) -> bool:
    return DBTaskResult.objects.filter(task_path=path, status=TaskResultStatus.READY).exists()


def periodic_schedule(path: str, *, delay: timedelta) -> bool:
    """Enqueue a run of the periodic job at `path` in `delay`, unless one is already waiting."""
    if _waiting(path):
        return False
    job: Task = import_string(path)
    job.using(run_after=timezone.now() + delay).enqueue()
    return True


def periodic_schedule_all() -> list[str]:
    """Make sure every periodic job has a waiting run; those that had none run now. Returns them."""
    return [path for path in PERIODIC_JOBS if periodic_schedule(path, delay=timedelta(0))]


@receiver(task_finished, dispatch_uid="operations.periodic_next_run")
def periodic_next_run(sender, task_result, **kwargs) -> None:
    path = task_result.task.module_path
    if path in PERIODIC_JOBS:
        periodic_schedule(path, delay=PERIODIC_JOBS[path])
