"""Recording events in the log and publishing them once committed: the one place events are made."""

import asyncio
import concurrent.futures
import json
import logging
import threading
from functools import partial

from channels.layers import get_channel_layer
from django.db import transaction
from django.dispatch import Signal
from rest_framework.fields import DateTimeField

from realtime.models import Event, EventType
from taskflow.db.rows import insert_instance
from tasks.event_counter import event_seq_take

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


# Sent with each event appended (`event`), in the writer's transaction, once its row is written.
event_recorded = Signal()


def event_append(
    *, project_id: int, event_type: EventType, data: dict, actor_id: int | None, task_states: list | None = None
) -> Event:
    """Record a change of `project_id` in the writer's transaction and publish it after commit.

    The row is written by hand (taskflow.db.rows.insert_instance: every write appends one), so
    Event's own save signals are not sent; `event_recorded` is. The publish is registered first,
    so that after the commit the sockets get the event before any receiver's work (webhooks) runs.
    """
    with transaction.atomic(savepoint=False):
        event = Event(
            project_id=project_id,
            seq=event_seq_take(project_id),
            type=event_type,
            actor_id=actor_id,
            data=data,
            task_states=task_states,
        )
        insert_instance(event)
        transaction.on_commit(partial(event_publish, message=event_message(event)), robust=True)
        event_recorded.send(sender=Event, event=event)
    return event


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
    not once per socket. `member` is the user a member.* event is about (for revocation);
    `states`, the task states filtered subscriptions match (realtime.subscriptions).
    """
    frame = event_frame(event)
    return {
        "type": "project.event",
        "project": frame["project"],
        "seq": frame["seq"],
        "event": frame["event"],
        "member": frame["data"].get("user") if frame["event"].startswith("member.") else None,
        "states": event.task_states,
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


def user_token_revoked(*, user_id: int, token_id: int | None) -> None:
    """Tell every server process that a user's personal access token `token_id` was revoked, or
    with None that the user's password changed: the sockets authenticated with that token, or with
    a JWT, close (4401). Best effort, after commit: for a personal access token each hub's periodic
    check closes any that this message missed; a JWT socket it missed closes when its access token
    expires, and no renewal with a token from before the change is accepted."""
    message = {"type": "user.token_revoked", "user": user_id, "token": token_id}
    if token_id is None:
        failure = f"Could not tell the sockets of user {user_id} that their password changed."
    else:
        failure = f"Could not tell the sockets of token {token_id} it was revoked."
    layer_send(user_group(user_id), message, failure=failure)


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
