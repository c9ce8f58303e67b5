"""The work each hot request does, counted: a change that adds queries or channel-layer sends fails.

Not timings: the number of SQL statements per endpoint (transaction control aside) and the number
of messages a write puts on the channel layer. The figures are what bench/README.md explains; when
one must change, change it here on purpose.
"""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from realtime.events import project_group
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def statements(queries) -> list[str]:
    return [query["sql"] for query in queries if not query["sql"].upper().startswith(TRANSACTION_CONTROL)]


def run(client, method: str, path: str, body: dict | None = None, **headers) -> tuple[int, list[str]]:
    """The request's statements, with those it runs after its commit (the test's transaction never commits)."""
    with CaptureQueriesContext(connection) as queries, TestCase.captureOnCommitCallbacks(execute=True):
        response = (
            getattr(client, method)(path, body, format="json", **headers)
            if body
            else getattr(client, method)(path, **headers)
        )
    assert response.status_code < 400, response.content
    return response.status_code, statements(queries)


@pytest.fixture
def tasks_of(project):
    return [make_task(project=project, title=f"Task {index}", labels=["a"]) for index in range(5)]


def test_task_list_of_a_project(client, project, tasks_of):
    path = f"/api/tasks/?project={project.pk}&page_size=50"
    _, first = run(client, "get", path)
    _, again = run(client, "get", path)
    # project seq with membership and the caller's row (authentication); the page (then cached).
    assert len(first) == 2, first
    # project seq with membership and the caller's row; the page comes from the cache.
    assert len(again) == 1, again


def test_task_detail(client, project, tasks_of):
    _, queries = run(client, "get", f"/api/tasks/{tasks_of[0].pk}/")
    assert len(queries) == 1, queries  # task with the caller's role and row (authentication)


def test_task_patch(client, project, tasks_of):
    _, queries = run(client, "patch", f"/api/tasks/{tasks_of[0].pk}/", {"title": "Renamed"})
    # task with role and the caller's row (authentication); task update, if its version is still
    # the one read; the project's next seq (its counter's lock, held from here to the commit);
    # event insert; its activity entry; after the commit, whether the project has webhooks.
    assert len(queries) == 6, queries


def test_task_patch_merged_on_a_stale_version(client, project, tasks_of):
    path = f"/api/tasks/{tasks_of[0].pk}/"
    run(client, "patch", path, {"title": "Renamed"})
    _, queries = run(client, "patch", path, {"description": "Merged"}, HTTP_IF_MATCH='"1"', HTTP_PREFER="merge")
    # As a plain PATCH: the fields' versions are in the task's row, read by the first statement and
    # written by the update, which also checks that the row is still the one the merge was checked on.
    assert len(queries) == 6, queries


def test_task_create(client, project):
    _, queries = run(client, "post", "/api/tasks/", {"project": project.pk, "title": "New"})
    # user; project among the caller's (validation); project with role; next seq (the counter's
    # lock); last position; task insert; event insert; activity entry; after the commit, webhooks?
    assert len(queries) == 9, queries


# --- Channel-layer sends ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_each_write_puts_one_message_on_the_channel_layer(client, project, channel_layer_of_this_test):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(project_group(project.pk), channel)

    # One receiver for the whole test: the Redis pub/sub layer unsubscribes a channel whose
    # receive() is cancelled, as a timeout would.
    received: list[str] = []

    async def receive_all() -> None:
        while True:
            received.append((await layer.receive(channel))["event"])

    receiver = asyncio.create_task(receive_all())

    async def events_sent() -> list[str]:
        await asyncio.sleep(0.5)
        sent = list(received)
        received.clear()
        return sent

    task = await sync_to_async(make_task)(project=project, title="Watched")
    assert await events_sent() == ["task.created"]
    await sync_to_async(run)(client, "patch", f"/api/tasks/{task.pk}/", {"title": "Renamed"})
    assert await events_sent() == ["task.updated"]
    await sync_to_async(run)(client, "patch", f"/api/tasks/{task.pk}/", {"title": "Renamed"})  # no change
    assert await events_sent() == []
    receiver.cancel()
