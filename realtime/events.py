"""Recording events in the log and publishing them once committed: the one place events are made."""

import asyncio
import json
import logging
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from rest_framework.fields import DateTimeField

from realtime.context import acting_user_id
from realtime.models import Event, EventType
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
    return Project.objects.select_for_update().filter(pk=project_id).values_list("event_seq", flat=True).get()


def event_append(*, project_id: int, event_type: EventType, data: dict) -> Event:
    """Record a change of `project_id` in the writer's transaction and publish it after commit.

    The project row is locked to take the next seq, so seqs are gap-free and follow commit order:
    a second writer of the same project waits here until the first commits.
    """
    with transaction.atomic(savepoint=False):
        seq = event_counter_lock(project_id) + 1
        Project.objects.filter(pk=project_id).update(event_seq=seq)
        event = Event.objects.create(
            project_id=project_id, seq=seq, type=event_type, actor_id=acting_user_id(), data=data
        )
        transaction.on_commit(partial(event_publish, message=event_message(event)), robust=True)
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
    try:
        async_to_sync(group_send)(project_group(message["project"]), message)
    except Exception:
        logger.exception(
            "Could not publish event %s of project %s (%s); subscribers will recover it from the log.",
            message["seq"],
            message["project"],
            message["event"],
        )


def user_notify(*, user_id: int, notification: dict) -> None:
    """Send a `notification` frame to every socket of a user, in every server process.

    Best effort, like event publishing: a failure is logged, never raised. Call it after commit.
    """
    message = {"type": "user.notification", "user": user_id, "text": json.dumps(notification, separators=(",", ":"))}
    try:
        async_to_sync(group_send)(user_group(user_id), message)
    except Exception:
        logger.exception("Could not send notification %s to user %s.", notification.get("id"), user_id)


async def group_send(group: str, message: dict) -> None:
    """Send to a channel-layer group, giving up after PUBLISH_TIMEOUT_SECONDS (raises then)."""
    layer = get_channel_layer()
    if layer is None:
        return
    await asyncio.wait_for(layer.group_send(group, message), timeout=PUBLISH_TIMEOUT_SECONDS)
