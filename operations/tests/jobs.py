"""Running background jobs from tests, with the worker's own code, in the test's thread."""

from datetime import datetime

from django.db import connection
from django.tasks.base import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction

from operations.workers import worker_new


def commit_callbacks_run() -> None:
    """Run what the test's writes registered to run after their commits, as those commits would
    have, and forget it: a test's own transaction never commits. Callbacks they register run too.
    """
    while connection.run_on_commit:
        callbacks, connection.run_on_commit = connection.run_on_commit, []
        for _, callback, _robust in callbacks:
            callback()


def jobs_run(*, due_by: datetime | None = None, limit: int = 1000) -> int:
    """Run every waiting job due now, or due by `due_by` (as if the clock had moved on to it),
    including jobs those jobs enqueue when they are due too. Returns how many ran.

    The writes before it count as committed (commit_callbacks_run): a worker sees what they
    enqueued after their commits.

    Jobs are claimed and run as `Worker.run` does, minus its `close_old_connections()` between
    jobs, which would close the connection holding the test's transaction.
    """
    commit_callbacks_run()
    if due_by is not None:
        DBTaskResult.objects.filter(status=TaskResultStatus.READY, run_after__lte=due_by).update(
            run_after=timezone.now()
        )
    worker = worker_new(worker_id="test-worker", interval=0, batch=True, max_tasks=limit)
    ran = 0
    while ran < limit:
        with exclusive_transaction():
            job = DBTaskResult.objects.ready().filter(backend_name="default").get_locked()
            if job is None:
                break
            job.claim(worker.worker_id)
        worker.run_task(job)
        ran += 1
    return ran
