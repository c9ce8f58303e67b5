"""The deployed topology on loopback: two Daphne processes and a worker sharing MySQL and Redis.

What docker-compose.yml runs, without Docker: a change made through one server reaches a webhook
receiver (signed) and the assignee's socket on the other server (a reminder notification), both
carried by the worker; `manage.py status` sees the sockets and the work done. MySQL + Redis pass
only: the embedded default has no database that separate processes share.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
import websockets
from django.utils import timezone

from realtime.tests.servers import ROOT, TaskFlowServer, WorkerProcess, api, shared_database_url, started
from webhooks.tests.receiver import Receiver, signature_of

pytestmark = [pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-passphrase-1"


@pytest.fixture
def topology():
    """Servers A and B (Daphne) and a worker, on the shared MySQL test database and Redis."""
    if not os.environ.get("DATABASE_URL", "").startswith("mysql") or not os.environ.get("REDIS_URL"):
        pytest.skip("the topology runs in the MySQL + Redis pass (set DATABASE_URL and REDIS_URL)")
    shared = {
        "database_url": shared_database_url(),
        "redis_url": os.environ["REDIS_URL"],
        "channel_prefix": f"topo{uuid.uuid4().hex[:8]}",
        "TASKFLOW_WS_CHECK_SECONDS": "0.5",
    }
    processes = [
        TaskFlowServer(server="daphne", **shared),
        TaskFlowServer(server="daphne", **shared),
        WorkerProcess(**shared),
    ]
    with started(processes):
        yield processes


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def _sign_up(server: TaskFlowServer) -> tuple[str, int]:
    name = f"topo-{uuid.uuid4().hex[:8]}"
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    status, user = api(server, "POST", "/api/auth/register/", body)
    assert status == 201, user
    status, tokens = api(server, "POST", "/api/auth/token/", {"username": name, "password": PASSWORD})
    assert status == 200
    return tokens["access"], user["id"]


async def _until(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await asyncio.to_thread(predicate):
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def _status(worker: WorkerProcess) -> dict:
    result = subprocess.run(
        [sys.executable, "manage.py", "status", "--json"],
        cwd=ROOT,
        env=worker.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def test_a_change_on_one_server_reaches_the_webhook_and_the_assignee_on_the_other(topology, receiver):
    a, b, worker = topology
    owner, _ = await asyncio.to_thread(_sign_up, a)
    assignee, assignee_id = await asyncio.to_thread(_sign_up, b)
    status, project = await asyncio.to_thread(api, a, "POST", "/api/projects/", {"name": "Topology"}, owner)
    assert status == 201
    members = f"/api/projects/{project['id']}/members/"
    status, _ = await asyncio.to_thread(api, a, "POST", members, {"user": assignee_id, "role": "member"}, owner)
    assert status == 201
    hooks = f"/api/projects/{project['id']}/webhooks/"
    status, hook = await asyncio.to_thread(
        api, b, "POST", hooks, {"url": receiver.url(), "event_types": ["task.created"]}, owner
    )
    assert status == 201, hook

    socket = await websockets.connect(b.ws)
    await socket.send(json.dumps({"type": "auth", "token": assignee}))
    assert json.loads(await socket.recv())["type"] == "auth.ok"

    due_at = (timezone.now() + timedelta(minutes=30)).isoformat()
    task_body = {"project": project["id"], "title": "Cut the release", "assignee": assignee_id, "due_at": due_at}
    status, task = await asyncio.to_thread(api, a, "POST", "/api/tasks/", task_body, owner)
    assert status == 201

    # The reminder is due at once (30 min < the 60 min lead): the worker sends it through Redis to
    # server B, which holds the assignee's socket.
    # The assignment comes too (the owner assigned the task): both notifications, in either order.
    notifications = [json.loads(await asyncio.wait_for(socket.recv(), 15)) for _ in range(2)]
    assert {(frame["type"], frame["kind"]) for frame in notifications} == {
        ("notification", "task.due"),
        ("notification", "task.assigned"),
    }
    assert [frame["task"] for frame in notifications] == [task["id"], task["id"]]
    assert "Subject: Reminder: Cut the release is due" in worker.log()  # the console mail backend

    [delivered] = await _until(lambda: receiver.requests, timeout=15, what="the webhook delivery")
    body = json.loads(delivered.body)
    assert (body["type"], body["data"]["id"]) == ("task.created", task["id"])
    assert delivered.headers["X-TaskFlow-Signature"] == signature_of(hook["secret"], delivered.body)
    assert delivered.headers["X-TaskFlow-Seq"] == str(body["seq"])

    status_now = await _until(
        lambda: (report := _status(worker))["sockets"]["total"] >= 1 and report,
        timeout=15,
        what="server B reporting its socket",
    )
    assert status_now["reminders"]["sent_recently"] == 1
    assert status_now["jobs"]["failed_recently"] == 0
    await socket.close()
