"""A project's event counter: the column `Project.event_seq`, and the lock its writers queue on.

Every change of a project gets the project's next seq in the writer's transaction (realtime
records it as an event): taking it is one UPDATE of the project row, which locks the row until
the commit, so seqs are gap-free and follow commit order. The counter lives with the project, so
the services that decide the lock order of a write (tasks.services) take it here; the event log
takes the seqs with `event_seq_take`.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection

from taskflow.db.rows import fetch_value, sql
from tasks.models import Project


def event_counter_lock(project_id: int) -> int:
    """Lock the project's event counter until the transaction ends; returns the latest seq."""
    seq = fetch_value(sql(_LOCK_COUNTER, project=Project), [project_id])
    if seq is None:
        raise Project.DoesNotExist(f"No project {project_id}.")
    return seq


def event_seq_next(project_id: int) -> int:
    """Take the project's next seq: one statement that increments the counter and returns it.

    The UPDATE locks the project row until the transaction ends, so a second writer of the same
    project waits here until the first commits: seqs are gap-free and follow commit order.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            # LAST_INSERT_ID(expr) hands the new value back with the UPDATE's answer.
            cursor.execute(sql(_NEXT_SEQ_MYSQL, project=Project), [project_id])
            if cursor.rowcount != 1:
                raise Project.DoesNotExist(f"No project {project_id}.")
            return cursor.lastrowid
        if connection.vendor in ("sqlite", "postgresql"):
            cursor.execute(sql(_NEXT_SEQ_RETURNING, project=Project), [project_id])
            row = cursor.fetchone()
            if row is None:
                raise Project.DoesNotExist(f"No project {project_id}.")
            return row[0]
        cursor.execute(sql(_NEXT_SEQ, project=Project), [project_id])
        return event_counter_lock(project_id)


class _Reservation:
    """A seq taken ahead for the first event a block appends to its project."""

    __slots__ = ("project_id", "seq")

    def __init__(self, project_id: int, seq: int) -> None:
        self.project_id = project_id
        self.seq: int | None = seq

    def take(self, project_id: int) -> int | None:
        seq = self.seq if project_id == self.project_id else None
        if seq is not None:
            self.seq = None
        return seq


_reservation: ContextVar[_Reservation | None] = ContextVar("event_seq_reservation", default=None)


@contextmanager
def event_counter_held(project_id: int) -> Iterator[None]:
    """Hold the project's event counter for the rest of the transaction, from the block's start.

    For writers that must take it before their first event (tasks.services._change_by has the
    lock order): those that insert rows of the project, which take shared locks on the project
    row (foreign keys), and would deadlock upgrading those to append their events. Taking the
    next seq is the lock, so it is one statement: the block's first event gets that seq, and a
    block that appends none hands it back before the transaction commits (the row stays locked,
    so nobody saw it). Inside a transaction; a block nested in another for the same project holds
    the lock already and takes nothing. Without it, each event takes its seq when it is appended.
    """
    outer = _reservation.get()
    if outer is not None and outer.project_id == project_id:
        yield
        return
    reservation = _Reservation(project_id, event_seq_next(project_id))
    token = _reservation.set(reservation)
    try:
        yield
    finally:
        _reservation.reset(token)
    if reservation.seq is not None:
        with connection.cursor() as cursor:
            cursor.execute(sql(_GIVE_BACK_SEQ, project=Project), [project_id])


# The event counter's statements, written out: they run in every write (taskflow.db.rows).
_LOCK_COUNTER = "SELECT event_seq FROM {project} WHERE id = %s{for_update}"
_NEXT_SEQ_MYSQL = "UPDATE {project} SET event_seq = LAST_INSERT_ID(event_seq + 1) WHERE id = %s"
_NEXT_SEQ_RETURNING = "UPDATE {project} SET event_seq = event_seq + 1 WHERE id = %s RETURNING event_seq"
_NEXT_SEQ = "UPDATE {project} SET event_seq = event_seq + 1 WHERE id = %s"
_GIVE_BACK_SEQ = "UPDATE {project} SET event_seq = event_seq - 1 WHERE id = %s"


def event_seq_take(project_id: int) -> int:
    """The seq of an event of `project_id` being appended: the one reserved by an enclosing
    `event_counter_held` block for its first event, or the project's next one."""
    reservation = _reservation.get()
    seq = reservation.take(project_id) if reservation is not None else None
    return event_seq_next(project_id) if seq is None else seq
