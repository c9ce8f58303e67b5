"""Seqs stay gap-free and unique per project under concurrent writers (MySQL, real transactions)."""

import random
import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from realtime.models import Event
from tasks import services
from tasks.event_counter import event_seq_next
from tasks.models import Membership, Role, Task

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


def _run_together(workers) -> list[Exception]:
    """Run the callables in threads started together; the exceptions they raised."""
    errors = []
    start = threading.Barrier(len(workers))

    def run(work) -> None:
        try:
            start.wait()
            work()
        except Exception as exc:  # collected and reported by the test, not swallowed
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_a_task_change_leaves_the_project_row_unlocked(on_mysql, project, user):
    """Only a change of project checks the tasks' foreign key: other changes take no lock on the
    project, so a writer takes the project's event counter after its task's row, and only then."""
    task = services.task_create(project=project, actor=user, data={"title": "Moving"}, operator=True)
    changed = threading.Event()
    done = threading.Event()
    errors = []

    def change_and_hold() -> None:
        try:
            with transaction.atomic():
                Task.objects.filter(pk=task.pk).update(
                    status="done",
                    completed_at=timezone.now(),
                    position=42,
                    due_at=timezone.now(),
                    labels=["moved"],
                    updated_at=timezone.now(),
                )
                changed.set()
                done.wait(10)
        except Exception as exc:
            errors.append(exc)
            changed.set()
        finally:
            connections.close_all()

    holder = threading.Thread(target=change_and_hold)
    holder.start()
    try:
        assert changed.wait(10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
            taken = event_seq_next(project.pk)  # raises OperationalError (1205) if it has to wait
            transaction.set_rollback(True)
    finally:
        done.set()
        holder.join()
    assert errors == []
    assert taken == 3  # member.added and task.created before


def test_writers_of_every_kind_on_one_project_neither_deadlock_nor_skip_a_seq(on_mysql, project, user, add_member):
    """Updates of shared tasks (status, position, labels, assignee), creates, deletes, bulk
    updates and member changes, together: every write succeeds and the log stays gap-free."""
    helper = add_member()
    shared = [
        services.task_create(project=project, actor=user, data={"title": f"Shared {i}"}, operator=True)
        for i in range(6)
    ]
    rounds = 15

    def updater(seed: int):
        def work() -> None:
            rng = random.Random(seed)
            for write in range(rounds):
                task = Task.objects.get(pk=rng.choice(shared).pk)
                data = rng.choice(
                    [
                        {"status": rng.choice(["todo", "in_progress", "done"]), "position": rng.random()},
                        {"labels": [f"l{write}", f"s{seed}"], "title": f"{seed}-{write}"},
                        {"assignee": rng.choice([user.pk, None])},
                        {"due_at": timezone.now()},
                    ]
                )
                services.task_update(task=task, actor=user, data=data, operator=True)

        return work

    def creator_deleter() -> None:
        for write in range(rounds):
            created = services.task_create(
                project=project, actor=user, data={"title": f"Brief {write}", "assignee": user.pk}, operator=True
            )
            services.task_delete(task=created, actor=user, operator=True)

    def bulk_updater() -> None:
        for write in range(rounds // 3):
            tasks = Task.objects.filter(pk__in=[task.pk for task in shared[:3]])
            services.task_bulk_update(tasks=tasks, actor=user, changes={"priority": 1 + write % 4}, operator=True)

    def member_churn() -> None:
        for _ in range(rounds // 3):
            membership = Membership.objects.get(project=project, user=helper)
            services.task_create(
                project=project, actor=user, data={"title": "Theirs", "assignee": helper.pk}, operator=True
            )
            membership = services.member_change_role(
                project=project, actor=user, membership=membership, role=Role.ADMIN, operator=True
            )
            # Unassigns their tasks, each with an event, and removes them.
            services.member_remove(project=project, actor=user, membership=membership, operator=True)
            services.member_add(project=project, actor=user, user=helper.pk, role=Role.MEMBER, operator=True)

    errors = _run_together([updater(1), updater(2), updater(3), creator_deleter, bulk_updater, member_churn])

    assert errors == []
    project.refresh_from_db()
    seqs = list(Event.objects.filter(project=project).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, project.event_seq + 1))
    assert len(seqs) > 2 + 6 + 2 * rounds
