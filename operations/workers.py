"""django-tasks-db's worker (`db_worker`'s Worker class), built in one place for this project's own uses.

`manage.py worker` runs it through django-tasks-db's command; the worker inside a server process
(operations.embedded) and the tests' job runner (operations.tests.jobs) build it here. Its
constructor is that command module's, not a documented API: the tripwire tests in
operations/tests/test_embedded_worker.py fail first if it changes.
"""

from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME
from django_tasks_db.management.commands.db_worker import Worker


def worker_new(*, worker_id: str, interval: float, batch: bool = False, max_tasks: int | None = None) -> Worker:
    """A worker of the default backend's default queue, as `manage.py worker` runs with no options
    (without its start-up delay), polling every `interval` seconds when idle."""
    return Worker(
        queue_names=[DEFAULT_TASK_QUEUE_NAME],
        interval=interval,
        batch=batch,
        backend_name=DEFAULT_TASK_BACKEND_ALIAS,
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id=worker_id,
        excluded_queue_names=[],
    )
