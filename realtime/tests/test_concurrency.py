"""Seqs stay gap-free and unique per project under concurrent writers (MySQL, real transactions)."""

import threading

import pytest
from django.db import connection, connections

from realtime.models import Event
from tasks import services
from tasks.models import Task

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8
WRITES_PER_THREAD = 50


@pytest.fixture
def on_mysql():
    if connection.vendor != "mysql":
        pytest.skip("concurrent writers need a server database; this runs in the MySQL + Redis pass")


def test_concurrent_writers_get_gap_free_unique_seqs(on_mysql, project, user):
    task = services.task_create(project=project, actor=user, data={"title": "Shared"}, operator=True)
    errors = []
    start = threading.Barrier(THREADS)

    def writer(index: int) -> None:
        try:
            start.wait()
            for write in range(WRITES_PER_THREAD):
                if write % 2:
                    services.task_create(project=project, actor=user, data={"title": f"{index}-{write}"}, operator=True)
                else:
                    current = Task.objects.get(pk=task.pk)
                    services.task_update(
                        task=current, actor=user, data={"position": index * 1000 + write + 1}, operator=True
                    )
        except Exception as exc:  # collected and reported by the test, not swallowed
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    total = 2 + THREADS * WRITES_PER_THREAD  # member.added and task.created first
    seqs = list(Event.objects.filter(project=project).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, total + 1))
    project.refresh_from_db()
    assert project.event_seq == total


def test_seq_order_is_commit_order(on_mysql, project, user):
    """Each event's `at` never goes backwards along the seqs: a later seq was committed later."""
    threads = [
        threading.Thread(
            target=lambda index=index: (
                [
                    services.task_create(project=project, actor=user, data={"title": f"{index}"}, operator=True)
                    for _ in range(20)
                ],
                connections.close_all(),
            )
        )
        for index in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    times = list(Event.objects.filter(project=project).order_by("seq").values_list("created_at", flat=True))
    assert len(times) == 81
    assert times == sorted(times)
