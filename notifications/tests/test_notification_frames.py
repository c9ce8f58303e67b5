"""Reminders on the WebSocket: the assignee's open sockets get a `notification` frame, nobody else."""

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from accounts.tests.factories import UserFactory
from notifications.models import Notification, Reminder
from operations.tests.jobs import jobs_run
from realtime.tests.websocket import FRAME_TIMEOUT, SILENCE
from tasks import services
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def task_due_soon_for(assignee):
    owner = UserFactory()
    project = services.project_create(actor=owner, name="Release")
    services.member_add(project=project, actor=owner, user=assignee.pk, operator=True)
    return make_task(
        project=project,
        actor=assignee,  # their own task: the reminder is their only notification
        title="Tag the release",
        assignee=assignee.pk,
        due_at=timezone.now() + timedelta(minutes=30),
    )


async def test_assignee_socket_receives_the_reminder_as_a_notification_frame(signed_in, user):
    ws = await signed_in(user)
    task = await task_due_soon_for(user)
    assert await Reminder.objects.filter(task=task).aexists()

    assert await sync_to_async(jobs_run)() == 1

    frame = await ws.receive_json_from(FRAME_TIMEOUT)
    notification = await Notification.objects.aget(user=user)
    assert frame == {
        "type": "notification",
        "id": notification.pk,
        "kind": "task.due",
        "project": task.project_id,
        "task": task.pk,
        "actor": None,
        "at": notification.at.isoformat().replace("+00:00", "Z"),
        "read_at": None,
        "data": {
            "task": {
                "id": task.pk,
                "project": task.project_id,
                "project_name": "Release",
                "title": "Tag the release",
                "due_at": task.due_at.isoformat().replace("+00:00", "Z"),
            },
        },
    }


async def test_every_socket_of_the_assignee_gets_it_once(signed_in, user):
    first, second = await signed_in(user), await signed_in(user)
    await task_due_soon_for(user)
    await sync_to_async(jobs_run)()
    for ws in (first, second):
        assert (await ws.receive_json_from(FRAME_TIMEOUT))["type"] == "notification"
        assert await ws.receive_nothing(SILENCE)


async def test_other_users_sockets_get_nothing(signed_in, user):
    other = await sync_to_async(UserFactory)()
    ws = await signed_in(other)
    await task_due_soon_for(user)
    await sync_to_async(jobs_run)()
    assert await ws.receive_nothing(SILENCE)


async def test_closed_socket_stops_following_the_user(signed_in, user):
    closing = await signed_in(user)
    staying = await signed_in(user)
    await closing.disconnect()
    await asyncio.sleep(0)
    await task_due_soon_for(user)
    await sync_to_async(jobs_run)()
    assert (await staying.receive_json_from(FRAME_TIMEOUT))["type"] == "notification"
