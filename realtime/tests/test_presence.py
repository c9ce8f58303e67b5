"""Presence as clients see it: who looks at a project (and at which task) reaches every subscriber
within a second, and leaves on close, unsubscribe or silence; none of it is in the event log.

One server process here (Channels' communicator, on the configured channel layer); across two
real server processes sharing Redis at the end (the MySQL + Redis pass).
"""

import asyncio
import json
import os
import time
import uuid

import pytest
import websockets
from asgiref.sync import sync_to_async

from accounts.tests.factories import UserFactory
from realtime.hub import ProjectHub
from realtime.models import Event
from realtime.tests.servers import TaskFlowServer, api, shared_database_url, started
from realtime.tests.websocket import FRAME_TIMEOUT, SILENCE
from tasks import services
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db(transaction=True)

WITHIN = 1.0  # the contract: every subscriber hears of a change within a second


@pytest.fixture
def team(db):
    ada, bo = UserFactory(username="ada"), UserFactory(username="bo")
    project = services.project_create(actor=ada, name="Launch")
    services.member_add(project=project, actor=ada, user=bo.pk, role="viewer", operator=True)
    task = make_task(project=project)
    return {"ada": ada, "bo": bo, "project": project, "task": task}


async def subscribed(signed_in, user, project):
    ws = await signed_in(user)
    await ws.send_json_to({"type": "subscribe", "project": project.pk})
    frame = await ws.receive_json_from(FRAME_TIMEOUT)
    assert frame["type"] == "subscribed", frame
    return ws


def viewer(user, task=None) -> dict:
    return {"user": user.pk, "username": user.username, "task": task.pk if task is not None else None}


async def presence_within(ws, project, seconds: float = WITHIN) -> dict:
    frame = await ws.receive_json_from(seconds)
    assert frame["type"] == "presence" and frame["project"] == project.pk, frame
    return frame


async def test_every_subscriber_hears_who_looks_at_which_task_within_a_second(signed_in, team):
    ada_ws = await subscribed(signed_in, team["ada"], team["project"])
    bo_ws = await subscribed(signed_in, team["bo"], team["project"])

    started = time.monotonic()
    await ada_ws.send_json_to({"type": "presence", "project": team["project"].pk, "task": team["task"].pk})

    for ws in (bo_ws, ada_ws):
        frame = await presence_within(ws, team["project"])
        assert frame["viewers"] == [viewer(team["ada"], team["task"])]
    assert time.monotonic() - started < WITHIN

    await bo_ws.send_json_to({"type": "presence", "project": team["project"].pk, "task": None})
    frame = await presence_within(ada_ws, team["project"])
    assert frame["viewers"] == [viewer(team["ada"], team["task"]), viewer(team["bo"])]


async def test_a_new_subscriber_is_told_who_is_there(signed_in, team):
    ada_ws = await subscribed(signed_in, team["ada"], team["project"])
    await ada_ws.send_json_to({"type": "presence", "project": team["project"].pk, "task": None})
    await presence_within(ada_ws, team["project"])

    bo_ws = await subscribed(signed_in, team["bo"], team["project"])

    assert (await presence_within(bo_ws, team["project"]))["viewers"] == [viewer(team["ada"])]


@pytest.mark.parametrize("how", ["unsubscribe", "close"])
async def test_a_socket_that_unsubscribes_or_closes_leaves(signed_in, team, how):
    ada_ws = await subscribed(signed_in, team["ada"], team["project"])
    bo_ws = await subscribed(signed_in, team["bo"], team["project"])
    await ada_ws.send_json_to({"type": "presence", "project": team["project"].pk, "task": team["task"].pk})
    await presence_within(bo_ws, team["project"])

    if how == "close":
        await ada_ws.disconnect()
    else:
        await ada_ws.send_json_to({"type": "unsubscribe", "project": team["project"].pk})

    assert (await presence_within(bo_ws, team["project"]))["viewers"] == []


async def test_a_socket_silent_for_the_presence_timeout_leaves(signed_in, team, settings):
    settings.TASKFLOW_WS_PRESENCE_SECONDS = 1.0
    ada_ws = await subscribed(signed_in, team["ada"], team["project"])
    bo_ws = await subscribed(signed_in, team["bo"], team["project"])
    await ada_ws.send_json_to({"type": "presence", "project": team["project"].pk, "task": None})
    await presence_within(bo_ws, team["project"])
    await bo_ws.send_json_to({"type": "presence", "project": team["project"].pk, "task": team["task"].pk})
    await presence_within(bo_ws, team["project"])

    await asyncio.sleep(0.7)
    await bo_ws.send_json_to({"type": "ping"})  # bo keeps talking, ada says nothing more
    assert (await bo_ws.receive_json_from(FRAME_TIMEOUT))["type"] == "pong"
    await asyncio.sleep(0.4)
    await ProjectHub.current().check()

    assert (await presence_within(bo_ws, team["project"]))["viewers"] == [viewer(team["bo"], team["task"])]


async def test_looking_again_at_the_same_task_tells_nobody(signed_in, team):
    ada_ws = await subscribed(signed_in, team["ada"], team["project"])
    message = {"type": "presence", "project": team["project"].pk, "task": team["task"].pk}
    await ada_ws.send_json_to(message)
    await presence_within(ada_ws, team["project"])

    await ada_ws.send_json_to(message)

    assert await ada_ws.receive_nothing(SILENCE)


async def test_presence_is_not_an_event(signed_in, team):
    events = await sync_to_async(Event.objects.count)()
    ada_ws = await subscribed(signed_in, team["ada"], team["project"])

    await ada_ws.send_json_to({"type": "presence", "project": team["project"].pk, "task": team["task"].pk})
    frame = await presence_within(ada_ws, team["project"])

    assert "seq" not in frame
    assert await sync_to_async(Event.objects.count)() == events


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "presence", "project": "x", "task": None},
        {"type": "presence", "project": 1, "task": "x"},
        {"type": "presence", "project": None},
    ],
)
async def test_a_malformed_presence_is_a_bad_request(signed_in, team, frame):
    ws = await subscribed(signed_in, team["ada"], team["project"])
    await ws.send_json_to(frame)
    answer = await ws.receive_json_from(FRAME_TIMEOUT)
    assert (answer["type"], answer["code"]) == ("error", "bad_request")


async def test_presence_in_a_project_not_subscribed_or_for_its_stranger_task_is_a_bad_request(signed_in, team):
    other = await sync_to_async(services.project_create)(actor=team["ada"], name="Other")
    stranger = await sync_to_async(make_task)(project=other)
    ws = await subscribed(signed_in, team["ada"], team["project"])

    for frame in (
        {"type": "presence", "project": other.pk, "task": None},
        {"type": "presence", "project": team["project"].pk, "task": stranger.pk},
    ):
        await ws.send_json_to(frame)
        answer = await ws.receive_json_from(FRAME_TIMEOUT)
        assert (answer["type"], answer["code"]) == ("error", "bad_request"), answer
    assert await ws.receive_nothing(SILENCE)


# --- Across server processes ------------------------------------------------------------------------


def _require_mysql_and_redis() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("mysql") or not os.environ.get("REDIS_URL"):
        pytest.skip("two server processes meet in MySQL and Redis: this runs in the MySQL + Redis pass")


@pytest.fixture
def two_servers():
    _require_mysql_and_redis()
    prefix = f"presence{uuid.uuid4().hex[:8]}"
    servers = [
        TaskFlowServer(
            server="uvicorn",
            database_url=shared_database_url(),
            redis_url=os.environ["REDIS_URL"],
            channel_prefix=prefix,
            TASKFLOW_WS_CHECK_SECONDS="0.5",
        )
        for _ in range(2)
    ]
    with started(servers):
        yield servers


def _account(server) -> dict:
    name = f"p{uuid.uuid4().hex[:10]}"
    password = "a-long-passphrase-1"
    assert (
        api(
            server,
            "POST",
            "/api/auth/register/",
            {"username": name, "email": f"{name}@example.com", "password": password},
        )[0]
        == 201
    )
    _, tokens = api(server, "POST", "/api/auth/token/", {"username": name, "password": password})
    return {"username": name, "access": tokens["access"]}


async def _socket(server, access: str, project_id: int):
    ws = await websockets.connect(f"ws://127.0.0.1:{server.port}/ws/")
    await ws.send(json.dumps({"type": "auth", "token": access}))
    assert json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT))["type"] == "auth.ok"
    await ws.send(json.dumps({"type": "subscribe", "project": project_id}))
    assert json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT))["type"] == "subscribed"
    return ws


async def _presence(ws, seconds: float = WITHIN) -> list[dict]:
    frame = json.loads(await asyncio.wait_for(ws.recv(), seconds))
    assert frame["type"] == "presence", frame
    return frame["viewers"]


def test_presence_crosses_server_processes_within_a_second_and_leaves_with_the_socket(two_servers):
    first, second = two_servers
    ada, bo = _account(first), _account(first)
    status, project = api(first, "POST", "/api/projects/", {"name": "Across"}, ada["access"])
    assert status == 201
    assert (
        api(
            first,
            "POST",
            f"/api/projects/{project['id']}/members/",
            {"user": bo["username"], "role": "member"},
            ada["access"],
        )[0]
        == 201
    )

    async def scenario():
        bo_ws = await _socket(second, bo["access"], project["id"])
        ada_ws = await _socket(first, ada["access"], project["id"])
        try:
            started = time.monotonic()
            await ada_ws.send(json.dumps({"type": "presence", "project": project["id"], "task": None}))
            viewers = await _presence(bo_ws)
            assert time.monotonic() - started < WITHIN
            assert [v["username"] for v in viewers] == [ada["username"]]

            await ada_ws.close()
            assert await _presence(bo_ws) == []
        finally:
            await bo_ws.close()

    asyncio.run(scenario())
