"""The worker inside a server process (operations.embedded), and tripwires on the django-tasks-db
worker it runs (operations.workers): if that class changes what they rely on, these fail first."""

import inspect
import time
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker

from notifications.models import Reminder, ReminderStatus
from operations.embedded import EmbeddedWorker
from operations.workers import worker_new
from tasks.tests.factories import make_task


def wait_for(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout}s")
        time.sleep(0.05)


def test_worker_takes_the_arguments_the_embedded_worker_gives():
    parameters = inspect.signature(Worker.__init__).parameters
    assert set(parameters) == {
        "self",
        "queue_names",
        "interval",
        "batch",
        "backend_name",
        "startup_delay",
        "max_tasks",
        "worker_id",
        "excluded_queue_names",
    }
    assert all(
        parameter.kind is inspect.Parameter.KEYWORD_ONLY for name, parameter in parameters.items() if name != "self"
    )


@pytest.mark.django_db(transaction=True)
def test_worker_loop_ends_when_told_to_stop_running():
    worker = worker_new(worker_id="tripwire", interval=0)
    worker.running = False
    started = time.monotonic()
    worker.run()  # returns at once: `running` is what its loop checks
    assert time.monotonic() - started < 1


def reminder_status(pk: int) -> str | None:
    """The reminder's status; None while the worker's thread writes it. (In the embedded pass the
    test database is SQLite in memory, shared between threads in shared-cache mode, whose table
    locks fail a reader at once, "database table is locked", instead of waiting as a file does.)"""
    try:
        return Reminder.objects.get(pk=pk).status
    except OperationalError:
        return None


@pytest.mark.django_db(transaction=True)
def test_embedded_worker_runs_due_jobs_in_its_thread_and_stops_between_them(user, project):
    task = make_task(project=project, assignee=user.pk, due_at=timezone.now() + timedelta(minutes=5))
    reminder = Reminder.objects.get(task=task)
    worker = EmbeddedWorker(interval=0.05)
    worker.start()
    try:
        wait_for(lambda: reminder_status(reminder.pk) == ReminderStatus.SENT, timeout=10, what="the reminder")
    finally:
        worker.stop(timeout=5)
    assert not worker.thread.is_alive()
