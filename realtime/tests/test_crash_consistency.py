"""The seq guarantee through a crash: many writers on two server processes, one of them killed
(SIGKILL) while its requests are in flight. A project's seqs stay gap-free and in commit order,
every change a writer was told of has its event, and no change the crash rolled back has one.

Two uvicorn processes share MySQL and Redis; this runs in the MySQL + Redis pass.
"""

import asyncio
import json
import os
import threading
import urllib.error
import urllib.request
import uuid
from collections import defaultdict

import pytest
import websockets

from realtime.tests.servers import TaskFlowServer, api, shared_database_url, started

pytestmark = pytest.mark.django_db(transaction=True)

TASKS = 6
WRITERS_PER_SERVER = 4
WRITES_PER_WRITER = 40
# The kill comes once this many writes have been answered, so that it lands among writes.
KILL_AFTER = 60


@pytest.fixture
def two_servers():
    if not os.environ.get("DATABASE_URL", "").startswith("mysql") or not os.environ.get("REDIS_URL"):
        pytest.skip("two server processes meet in MySQL and Redis: this runs in the MySQL + Redis pass")
    prefix = f"crash{uuid.uuid4().hex[:8]}"
    shared = {"database_url": shared_database_url(), "redis_url": os.environ["REDIS_URL"], "channel_prefix": prefix}
    servers = [TaskFlowServer(server="uvicorn", **shared) for _ in range(2)]
    with started(servers):
        yield servers


def _account(server) -> str:
    name = f"c{uuid.uuid4().hex[:10]}"
    body = {"username": name, "email": f"{name}@example.com", "password": "a-long-passphrase-1"}
    assert api(server, "POST", "/api/auth/register/", body)[0] == 201
    status, tokens = api(server, "POST", "/api/auth/token/", {"username": name, "password": body["password"]})
    assert status == 200
    return tokens["access"]


def _patch(server, task_id: int, title: str, access: str) -> tuple[int | None, dict | None]:
    """PATCH a task's title; (None, None) when the server gave no answer (it was killed)."""
    request = urllib.request.Request(
        f"{server.http}/api/tasks/{task_id}/",
        method="PATCH",
        data=json.dumps({"title": title}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {access}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None
    except OSError:
        return None, None


def _feed(server, project_id: int, since: int, access: str) -> list[dict]:
    """Every event of the project after `since`, from the changes feed, page by page."""
    events = []
    while True:
        status, page = api(server, "GET", f"/api/projects/{project_id}/events/?since={since}&limit=1000", token=access)
        assert status == 200, page
        events += page["events"]
        since = page["last_seq"]
        if not page["has_more"]:
            return events


async def _collect(server, access: str, project_id: int, since: int, count: int, frames: list[dict]) -> None:
    """Subscribe on `server` from `since` and gather event frames until `count` have come."""
    async with websockets.connect(server.ws) as ws:
        await ws.send(json.dumps({"type": "auth", "token": access}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "auth.ok"
        await ws.send(json.dumps({"type": "subscribe", "project": project_id, "since": since}))
        while len(frames) < count:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
            if frame["type"] == "event":
                frames.append(frame)


def test_writers_on_two_processes_keep_gap_free_ordered_seqs_when_one_is_killed_mid_write(two_servers):
    doomed, survivor = two_servers
    access = _account(survivor)
    status, project = api(survivor, "POST", "/api/projects/", {"name": "Crash"}, access)
    assert status == 201
    tasks = []
    for number in range(TASKS):
        status, task = api(survivor, "POST", "/api/tasks/", {"project": project["id"], "title": f"t{number}"}, access)
        assert status == 201
        tasks.append(task)
    start_seq = _feed(survivor, project["id"], 0, access)[-1]["seq"]

    answered: list[tuple[int, int]] = []  # (task, version) of every write answered 200
    answered_by_survivor = []
    lock = threading.Lock()
    enough = threading.Event()

    def writer(server, number: int) -> None:
        for write in range(WRITES_PER_WRITER):
            task = tasks[(number + write) % TASKS]
            status, body = _patch(server, task["id"], f"w{number}-{write}", access)
            if status is None:
                return  # the server is gone: what it had in flight is the crash's to settle
            assert status == 200, (status, body)
            with lock:
                answered.append((body["id"], body["version"]))
                if server is survivor:
                    answered_by_survivor.append(body["id"])
                if len(answered) >= KILL_AFTER:
                    enough.set()

    threads = [
        threading.Thread(target=writer, args=(server, number), daemon=True)
        for number, server in enumerate([doomed, survivor] * WRITERS_PER_SERVER)
    ]
    for thread in threads:
        thread.start()
    assert enough.wait(60), "the writers made no progress"
    doomed.kill()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    # The kill cut the killed process's writers short; every write sent to the surviving process
    # was carried out, before the kill and after it.
    assert len(answered) - len(answered_by_survivor) < WRITERS_PER_SERVER * WRITES_PER_WRITER
    assert len(answered_by_survivor) == WRITERS_PER_SERVER * WRITES_PER_WRITER

    events = _feed(survivor, project["id"], start_seq, access)
    seqs = [event["seq"] for event in events]
    assert seqs == list(range(start_seq + 1, start_seq + 1 + len(events))), "a gap or a reorder in the seqs"
    assert {event["type"] for event in events} == {"task.updated"}

    # In seq order each task's versions count up by one from its creation: every committed change
    # has exactly one event, in commit order, and there is none for a change that did not commit.
    versions = defaultdict(list)
    for event in events:
        versions[event["data"]["id"]].append(event["data"]["version"])
    for task in tasks:
        status, stored = api(survivor, "GET", f"/api/tasks/{task['id']}/", token=access)
        assert status == 200
        assert versions[task["id"]] == list(range(task["version"] + 1, stored["version"] + 1)), task["id"]
    # Every write a client was told of is among them.
    assert set(answered) <= {(event["data"]["id"], event["data"]["version"]) for event in events}

    # A subscriber on the surviving process, resuming from before the writes, gets the same seqs.
    frames: list[dict] = []
    asyncio.run(_collect(survivor, access, project["id"], start_seq, len(events), frames))
    assert [frame["seq"] for frame in frames] == seqs

    # The killed process, started again, writes the next seq: the crash left no lock behind.
    doomed.start()
    assert _patch(doomed, tasks[0]["id"], "after", access)[0] == 200
    assert [event["seq"] for event in _feed(survivor, project["id"], seqs[-1], access)] == [seqs[-1] + 1]
