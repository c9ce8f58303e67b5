"""Running background jobs from tests, with the worker's own code, in the test's thread."""

from datetime import datetime

from django.tasks.base import TaskResultStatus
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult


def jobs_run(*, due_by: datetime | None = None, limit: int = 1000) -> int:
    """Run every waiting job due now, or due by `due_by` (as if the clock had moved on to it),
    including jobs those jobs enqueue when they are due too. Returns how many ran."""
    if due_by is not None:
        DBTaskResult.objects.filter(status=TaskResultStatus.READY, run_after__lte=due_by).update(
            run_after=timezone.now()
        )
    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=limit,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    worker.run()
    return worker._run_tasks
