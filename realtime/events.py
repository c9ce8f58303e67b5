"""Recording events in the log and publishing them once committed: the one place events are made."""

import asyncio
import concurrent.futures
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial

from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.dispatch import Signal
from rest_framework.fields import DateTimeField

from realtime.context import acting_user_id
from realtime.models import Event, EventType
from taskflow.sql import fetch_value, insert_instance, sql
from tasks.models import Project

logger = logging.getLogger(__name__)

# A publish that takes longer than this is abandoned: clients recover the event from the log.
PUBLISH_TIMEOUT_SECONDS = 2.0

_datetime_field = DateTimeField()


def project_group(project_id: int) -> str:
    """Channel-layer group of everyone subscribed to a project."""
    return f"project.{project_id}"


def user_group(user_id: int) -> str:
    """Channel-layer group of a user's sockets (joined on /ws/ after authentication)."""
    return f"user.{user_id}"


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


# Sent with each event appended (`event`), in the writer's transaction, once its row is written.
event_recorded = Signal()


def event_append(*, project_id: int, event_type: EventType, data: dict) -> Event:
    """Record a change of `project_id` in the writer's transaction and publish it after commit.

    The row is written by hand (taskflow.sql.insert_instance: every write appends one), so
    Event's own save signals are not sent; `event_recorded` is.
    """
    reservation = _reservation.get()
    seq = reservation.take(project_id) if reservation is not None else None
    with transaction.atomic(savepoint=False):
        event = Event(
            project_id=project_id,
            seq=event_seq_next(project_id) if seq is None else seq,
            type=event_type,
            actor_id=acting_user_id(),
            data=data,
        )
        insert_instance(event)
        event_recorded.send(sender=Event, event=event)
        transaction.on_commit(partial(event_publish, message=event_message(event)), robust=True)
    return event


# The event counter's statements, written out: they run in every write (taskflow.sql).
_LOCK_COUNTER = "SELECT event_seq FROM {project} WHERE id = %s{for_update}"
_NEXT_SEQ_MYSQL = "UPDATE {project} SET event_seq = LAST_INSERT_ID(event_seq + 1) WHERE id = %s"
_NEXT_SEQ_RETURNING = "UPDATE {project} SET event_seq = event_seq + 1 WHERE id = %s RETURNING event_seq"
_NEXT_SEQ = "UPDATE {project} SET event_seq = event_seq + 1 WHERE id = %s"
_GIVE_BACK_SEQ = "UPDATE {project} SET event_seq = event_seq - 1 WHERE id = %s"


def event_record(event: Event) -> dict:
    """The event as the REST changes feed returns it: `{seq, project, type, actor, at, data}`."""
    return {
        "seq": event.seq,
        "project": event.project_id,
        "type": event.type,
        "actor": event.actor_id,
        "at": _datetime_field.to_representation(event.created_at),
        "data": event.data,
    }


def event_frame(event: Event) -> dict:
    """The event as WebSocket clients receive it: the record, with its type under `event`."""
    record = event_record(event)
    return {"type": "event", "event": record.pop("type"), **record}


def event_message(event: Event) -> dict:
    """The channel-layer message of an event: what routing needs, and the frame encoded once.

    Every socket of every process sends the same text, so the frame is serialized here, once,
    not once per socket. `member` is the user a member.* event is about (for revocation).
    """
    frame = event_frame(event)
    return {
        "type": "project.event",
        "project": frame["project"],
        "seq": frame["seq"],
        "event": frame["event"],
        "member": frame["data"].get("user") if frame["event"].startswith("member.") else None,
        "text": json.dumps(frame, separators=(",", ":")),
    }


def event_publish(*, message: dict) -> None:
    """Send a committed event to the project's group. Failure is logged, never raised.

    The event is already durable in the log, so a subscriber that misses it catches up by seq.
    """
    layer_send(
        project_group(message["project"]),
        message,
        failure=f"Could not publish event {message['seq']} of project {message['project']} ({message['event']}); "
        "subscribers will recover it from the log.",
    )


def user_notify(*, user_id: int, notification: dict) -> None:
    """Send a `notification` frame to every socket of a user, in every server process.

    Best effort, like event publishing: a failure is logged, never raised. Call it after commit.
    """
    message = {"type": "user.notification", "user": user_id, "text": json.dumps(notification, separators=(",", ":"))}
    layer_send(
        user_group(user_id), message, failure=f"Could not send notification {notification.get('id')} to user {user_id}."
    )


def layer_send(group: str, message: dict, *, failure: str) -> None:
    """Send to a channel-layer group and wait for it (at most PUBLISH_TIMEOUT_SECONDS); a failure
    is logged with `failure`, never raised.

    Sends go through this process's publisher: one thread with an event loop and a channel-layer
    connection of its own, kept for the life of the process. Not the server's loop, where a send
    could wait behind the frames of a thousand sockets and reach Redis after a later event of
    another process; and not a new loop per send (async_to_sync), which cost a thread and a Redis
    connection each time. Waiting keeps each process's events in the order of their commits.
    """
    try:
        _publisher.submit(group_send(group, message)).result(timeout=PUBLISH_TIMEOUT_SECONDS + 1)
    except Exception:
        logger.exception(failure)


class _Publisher:
    """A daemon thread running an event loop on which this process sends to the channel layer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def submit(self, coroutine) -> concurrent.futures.Future:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="layer-publisher", daemon=True)
                self._thread.start()
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)


_publisher = _Publisher()


async def group_send(group: str, message: dict) -> None:
    """Send to a channel-layer group, giving up after PUBLISH_TIMEOUT_SECONDS (raises then)."""
    layer = get_channel_layer()
    if layer is None:
        return
    await asyncio.wait_for(layer.group_send(group, message), timeout=PUBLISH_TIMEOUT_SECONDS)
