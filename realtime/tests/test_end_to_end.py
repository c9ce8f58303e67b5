"""End to end on real servers: two TaskFlow processes (Daphne, then uvicorn) sharing MySQL and Redis.

These run in the MySQL + Redis pass (`DATABASE_URL=mysql://...`, `REDIS_URL=...`); in the embedded
pass there is no shared database or channel layer for two processes to meet in.
"""

import asyncio
import json
import os
import threading
import time
import uuid

import pytest
import websockets
from taskflow_client import Client, ProjectMirror, follow

from realtime.tests.servers import RedisServer, TaskFlowServer, api, shared_database_url

pytestmark = [pytest.mark.django_db(transaction=True)]

WS_CHECK_SECONDS = "0.5"


def _require_mysql_and_redis() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("mysql") or not os.environ.get("REDIS_URL"):
        pytest.skip("end-to-end tests run in the MySQL + Redis pass (set DATABASE_URL and REDIS_URL)")


def _servers(server: str, redis_url: str, count: int = 2, **settings: str) -> list[TaskFlowServer]:
    prefix = f"e2e{uuid.uuid4().hex[:8]}"
    servers = [
        TaskFlowServer(
            server=server,
            database_url=shared_database_url(),
            redis_url=redis_url,
            channel_prefix=prefix,
            **{"TASKFLOW_WS_CHECK_SECONDS": WS_CHECK_SECONDS, **settings},
        )
        for _ in range(count)
    ]
    try:
        for server in servers:
            server.start()
    except Exception:
        for server in servers:
            server.stop()
        raise
    return servers


# Daphne is Channels' own server; uvicorn pushes events faster (bench/README.md). Both are run.
SERVERS = ["daphne", "uvicorn"]


@pytest.fixture(params=SERVERS)
def server_kind(request) -> str:
    return request.param


@pytest.fixture
def two_servers(server_kind):
    """Processes A and B on the shared Redis."""
    _require_mysql_and_redis()
    servers = _servers(server_kind, os.environ["REDIS_URL"])
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def private_redis():
    _require_mysql_and_redis()
    redis = RedisServer()
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def two_servers_on_private_redis(server_kind, private_redis):
    servers = _servers(server_kind, private_redis.url)
    yield servers
    for server in servers:
        server.stop()


def _team(server: TaskFlowServer) -> tuple[str, int, int]:
    """A user with a project and one task, made through the API; returns (token, project, task)."""
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    status, _ = api(
        server,
        "POST",
        "/api/auth/register/",
        {"username": name, "email": f"{name}@example.com", "password": "a-long-passphrase-1"},
    )
    assert status == 201
    status, tokens = api(server, "POST", "/api/auth/token/", {"username": name, "password": "a-long-passphrase-1"})
    assert status == 200
    token = tokens["access"]
    status, project = api(server, "POST", "/api/projects/", {"name": "Realtime"}, token)
    assert status == 201
    status, task = api(server, "POST", "/api/tasks/", {"project": project["id"], "title": "Edit me"}, token)
    assert status == 201
    return token, project["id"], task["id"]


async def _connect(server: TaskFlowServer, token: str, project: int, since: int | None = None):
    """An authenticated socket subscribed to `project`; returns it and the replayed events."""
    socket = await websockets.connect(server.ws, max_size=2**20)
    await socket.send(json.dumps({"type": "auth", "token": token}))
    assert json.loads(await socket.recv())["type"] == "auth.ok"
    frame = {"type": "subscribe", "project": project}
    if since is not None:
        frame["since"] = since
    await socket.send(json.dumps(frame))
    replayed = []
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), 10))
        if message["type"] == "subscribed":
            return socket, replayed
        assert message["type"] == "event", message
        replayed.append(message)


async def _receive_events(socket, count: int, timeout: float) -> list[dict]:
    events = []
    deadline = time.monotonic() + timeout
    while len(events) < count:
        message = json.loads(await asyncio.wait_for(socket.recv(), max(0.01, deadline - time.monotonic())))
        assert message["type"] == "event", message
        events.append(message)
    return events


async def test_change_made_on_one_process_reaches_a_client_of_the_other_within_a_second(two_servers):
    a, b = two_servers
    token, project, task = await asyncio.to_thread(_team, a)
    socket, _ = await _connect(b, token, project)

    sent = time.monotonic()
    status, _ = await asyncio.to_thread(api, a, "PATCH", f"/api/tasks/{task}/", {"status": "in_progress"}, token)
    [event] = await _receive_events(socket, 1, timeout=1.0)
    elapsed = time.monotonic() - sent

    assert status == 200
    assert event["event"] == "task.updated" and event["data"]["status"] == "in_progress"
    assert elapsed < 1.0
    await socket.close()


async def test_client_resumes_on_the_other_process_missing_nothing(two_servers):
    a, b = two_servers
    token, project, task = await asyncio.to_thread(_team, a)
    socket, replayed = await _connect(a, token, project, since=0)
    last_seen = replayed[-1]["seq"]
    await socket.close()

    for index in range(5):
        status, _ = await asyncio.to_thread(api, b, "PATCH", f"/api/tasks/{task}/", {"title": f"Edit {index}"}, token)
        assert status == 200

    socket, replayed = await _connect(b, token, project, since=last_seen)
    assert [event["seq"] for event in replayed] == list(range(last_seen + 1, last_seen + 6))
    assert [event["data"]["title"] for event in replayed] == [f"Edit {index}" for index in range(5)]
    await socket.close()


async def test_redis_restart_during_writes_loses_and_duplicates_nothing(private_redis, two_servers_on_private_redis):
    a, b = two_servers_on_private_redis
    token, project, task = await asyncio.to_thread(_team, a)
    socket, replayed = await _connect(b, token, project, since=0)
    received = [event["seq"] for event in replayed]
    first_write_seq = received[-1] + 1

    statuses = []

    def write_200() -> None:
        for index in range(200):
            server = a if index % 2 == 0 else b
            status, _ = api(server, "PATCH", f"/api/tasks/{task}/", {"title": f"Write {index}"}, token)
            statuses.append(status)
            if index == 60:
                private_redis.restart()

    writer = threading.Thread(target=write_200)
    writer.start()
    # The socket may stay open across the restart (the watcher fills what the layer lost) or be
    # closed; either way a client that reconnects with `since` must end up with every event.
    deadline = time.monotonic() + 60
    while received[-1] < first_write_seq + 199 and time.monotonic() < deadline:
        try:
            message = json.loads(await asyncio.wait_for(socket.recv(), 5))
            assert message["type"] == "event", message
            received.append(message["seq"])
        except (websockets.ConnectionClosed, TimeoutError):
            await socket.close()
            socket, replayed = await _connect(b, token, project, since=received[-1])
            received.extend(event["seq"] for event in replayed)
    await asyncio.to_thread(writer.join)
    await socket.close()

    assert statuses == [200] * 200
    assert received == list(range(1, first_write_seq + 200))


@pytest.fixture(params=["pubsub", "core"])
def two_servers_checking_the_log_at_the_default_interval(request, server_kind, private_redis):
    """Processes A and B on the private Redis with each channel layer, checking the log every 3 s
    as deployed: a socket caught up sooner than that was caught up by the hub's recovery, not by
    its periodic check. (A restarted Redis has forgotten the `core` layer's groups.)"""
    servers = _servers(
        server_kind, private_redis.url, TASKFLOW_WS_CHECK_SECONDS="3", TASKFLOW_CHANNEL_LAYER=request.param
    )
    yield servers
    for server in servers:
        server.stop()


async def test_every_socket_is_caught_up_within_a_second_of_redis_answering_again(
    private_redis, two_servers_checking_the_log_at_the_default_interval
):
    a, b = two_servers_checking_the_log_at_the_default_interval
    token, project, task = await asyncio.to_thread(_team, a)
    connected = [await _connect(server, token, project, since=0) for server in (a, b, a, b)]
    sockets = [socket for socket, _ in connected]
    received = [[event["seq"] for event in replayed] for _, replayed in connected]
    first_write_seq = received[0][-1] + 1

    def write(count: int) -> None:
        for index in range(count):
            status, _ = api(
                a if index % 2 == 0 else b, "PATCH", f"/api/tasks/{task}/", {"title": f"Edit {index}"}, token
            )
            assert status == 200

    await asyncio.to_thread(private_redis.stop)
    await asyncio.to_thread(write, 3)  # while Redis is down
    await asyncio.to_thread(private_redis.start)  # returns once it answers PING
    answering = time.monotonic()
    await asyncio.to_thread(write, 3)  # right after it is back
    last_seq = first_write_seq + 5

    async def until_last(socket, seqs: list[int]) -> None:
        while seqs[-1] < last_seq:
            message = json.loads(await socket.recv())
            assert message["type"] == "event", message
            seqs.append(message["seq"])

    async def all_until_last(within: float, what: str) -> None:
        try:
            await asyncio.wait_for(
                asyncio.gather(*(until_last(s, seqs) for s, seqs in zip(sockets, received, strict=True))),
                timeout=max(0.01, within),
            )
        except TimeoutError:
            pytest.fail(f"not every socket got seq {last_seq} {what}: {[seqs[-1] for seqs in received]}")

    await all_until_last(answering + 1.0 - time.monotonic(), "within 1 s of Redis answering")
    # And events keep coming, at once, once the layer works again.
    await asyncio.to_thread(write, 1)
    last_seq += 1
    await all_until_last(0.5, "within 0.5 s of its write")
    for socket in sockets:
        await socket.close()

    assert received == [list(range(1, last_seq + 1))] * len(sockets)


def _fresh_state(server: TaskFlowServer, token: str, project: int) -> dict:
    _, tasks = api(server, "GET", f"/api/tasks/?project={project}&page_size=200", token=token)
    _, members = api(server, "GET", f"/api/projects/{project}/members/", token=token)
    return {
        "tasks": {task["id"]: task for task in tasks["results"]},
        "members": {member["user"]: member for member in members["results"]},
    }


async def test_python_client_stays_in_sync_across_a_server_restart(two_servers):
    a, b = two_servers
    token, project, task = await asyncio.to_thread(_team, a)
    _, me = await asyncio.to_thread(api, a, "GET", "/api/auth/me/", None, token)
    client = Client(b.http, username=me["username"], password="a-long-passphrase-1")
    mirror = ProjectMirror()
    follower = asyncio.create_task(follow(client, mirror, project))

    async def synced() -> bool:
        fresh = await asyncio.to_thread(_fresh_state, a, token, project)
        return {"tasks": mirror.tasks, "members": mirror.members} == fresh

    async def wait_synced(timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not await synced():
            assert time.monotonic() < deadline, "the Python client did not catch up"
            await asyncio.sleep(0.1)

    await asyncio.to_thread(api, a, "PATCH", f"/api/tasks/{task}/", {"status": "in_progress"}, token)
    await wait_synced()

    await asyncio.to_thread(b.stop)
    for index in range(3):
        await asyncio.to_thread(api, a, "POST", "/api/tasks/", {"project": project, "title": f"Offline {index}"}, token)
    await asyncio.to_thread(b.start)
    await wait_synced()

    follower.cancel()
    assert len(mirror.tasks) == 4
