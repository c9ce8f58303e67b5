"""The Python client (clients/python, `taskflow_client`) against a real server: its write queue
through a crash of the server and a lost answer, refused writes, a queue reopened from its file,
personal access tokens, and a filtered live copy.

These run in both passes. In the embedded pass the server is `make run`'s (Daphne) on a migrated
SQLite file of its own, with the in-memory channel layer; in the MySQL + Redis pass a uvicorn
process, as deployed, on the test database and Redis, under a channel prefix of its own. Users and
projects are made through the server's API: in the embedded pass its database is not the test's.
"""

import asyncio
import os
import time
import uuid
from collections import Counter

import pytest
from taskflow_client import ApiError, Client, ProjectMirror, WriteQueue, follow

from realtime.tests.servers import TaskFlowServer, TCPProxy, api, free_port, started, wait_until

ON_MYSQL = os.environ.get("DATABASE_URL", "").startswith("mysql")
# The server shares the test database in the MySQL pass: its rows are committed, then flushed.
pytestmark = [pytest.mark.django_db(transaction=True)] if ON_MYSQL else []

PASSWORD = "a-long-passphrase-1"
# Bounds, not waits: a write whose server died while running it left nothing behind, so its retry
# runs as soon as a server answers again.
DRAIN_SECONDS = 60
SYNC_SECONDS = 30


@pytest.fixture
def server(servers_database, tmp_path):
    kind = "uvicorn" if ON_MYSQL else "daphne"
    server = TaskFlowServer(
        server=kind,
        channel_prefix=f"client{uuid.uuid4().hex[:8]}",
        MEDIA_ROOT=str(tmp_path / "media"),
        **servers_database,
    )
    with started([server]):
        yield server


def _sign_up(server: TaskFlowServer) -> tuple[str, str]:
    """A new user, registered through the API; returns (username, access token)."""
    name = f"client-{uuid.uuid4().hex[:8]}"
    status, _ = api(
        server, "POST", "/api/auth/register/", {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    )
    assert status == 201
    status, tokens = api(server, "POST", "/api/auth/token/", {"username": name, "password": PASSWORD})
    assert status == 200
    return name, tokens["access"]


def _project(server: TaskFlowServer, token: str) -> int:
    status, project = api(server, "POST", "/api/projects/", {"name": "Offline first"}, token)
    assert status == 201
    return project["id"]


def _task(server: TaskFlowServer, token: str, project: int, title: str, **fields) -> int:
    status, task = api(server, "POST", "/api/tasks/", {"project": project, "title": title, **fields}, token)
    assert status == 201
    return task["id"]


def _fresh(server: TaskFlowServer, token: str, project: int, query: str = "") -> dict:
    """The project as a fresh REST read shows it: tasks (those of `query`), members, latest seq."""
    _, tasks = api(server, "GET", f"/api/tasks/?project={project}&page_size=200{query}", token=token)
    _, members = api(server, "GET", f"/api/projects/{project}/members/", token=token)
    _, details = api(server, "GET", f"/api/projects/{project}/", token=token)
    assert tasks["next"] is None
    return {
        "tasks": {task["id"]: task for task in tasks["results"]},
        "members": {member["user"]: member for member in members["results"]},
        "seq": details["event_seq"],
    }


def _copy(mirror: ProjectMirror) -> dict:
    return {"tasks": mirror.tasks, "members": mirror.members, "seq": mirror.seq}


async def _until_in_sync(mirror: ProjectMirror, server: TaskFlowServer, token: str, project: int, query: str = ""):
    """Wait for the copy to equal a fresh read, seq included; returns that read."""
    deadline = time.monotonic() + SYNC_SECONDS
    while (fresh := await asyncio.to_thread(_fresh, server, token, project, query)) != _copy(mirror):
        assert time.monotonic() < deadline, f"the copy did not catch up: seq {mirror.seq} of {fresh['seq']}"
        await asyncio.sleep(0.1)
    return fresh


def _events(server: TaskFlowServer, token: str, project: int) -> list[dict]:
    _, feed = api(server, "GET", f"/api/projects/{project}/events/?since=0&limit=1000", token=token)
    assert not feed["has_more"]
    return feed["events"]


# --- The write queue ----------------------------------------------------------------------------


def _queue_offline_work(queue: WriteQueue, project: int, patched: list[int]) -> tuple[list[str], Counter]:
    """50 writes: new tasks, and four edits of each task of `patched` (a title without If-Match,
    then three fields merged onto version 1). Returns the titles made and the edits per task."""
    titles, edits = [], Counter()
    merged = [("description", "Written offline"), ("priority", "high"), ("labels", ["offline"])]
    for index in range(50):
        if index % 4 == 3:
            task = patched[index // 4 % len(patched)]
            if edits[task] == 0:
                queue.add("PATCH", f"/api/tasks/{task}/", {"title": f"Edited offline {task}"})
            else:
                field, value = merged[edits[task] - 1]
                queue.add("PATCH", f"/api/tasks/{task}/", {field: value}, if_match=1, merge=True)
            edits[task] += 1
        else:
            titles.append(f"Made offline {index}")
            queue.add("POST", "/api/tasks/", {"project": project, "title": titles[-1]})
    return titles, edits


async def test_queued_writes_are_carried_out_once_each_across_a_server_crash(server, tmp_path):
    username, token = await asyncio.to_thread(_sign_up, server)
    project = await asyncio.to_thread(_project, server, token)
    patched = [await asyncio.to_thread(_task, server, token, project, f"Existing {index}") for index in range(3)]
    client = Client(server.http, username=username, password=PASSWORD)
    mirror = ProjectMirror()
    follower = asyncio.create_task(follow(client, mirror, project))
    queue = WriteQueue(tmp_path / "queue.sqlite3")
    titles, edits = _queue_offline_work(queue, project, patched)
    assert sum(edits.values()) == 12 and len(titles) == 38

    drain = asyncio.create_task(asyncio.to_thread(queue.drain, client, timeout=DRAIN_SECONDS))
    await asyncio.to_thread(
        wait_until, lambda: len(queue.writes("done")) >= 20, timeout=60, what="20 writes carried out"
    )
    await asyncio.to_thread(server.kill)
    done_before_the_crash = len(queue.writes("done"))
    await asyncio.to_thread(server.start)
    still_pending = await drain
    writes = queue.writes()
    queue.close()

    assert done_before_the_crash < 50
    assert still_pending == []
    assert Counter(write.state for write in writes) == {"done": 50}
    assert sum(write.attempts for write in writes) > 50  # some went out while the server was down
    fresh = await _until_in_sync(mirror, server, token, project)
    follower.cancel()
    made = Counter(task["title"] for task in fresh["tasks"].values() if task["id"] not in patched)
    assert made == Counter(titles)  # each exactly once
    events = await asyncio.to_thread(_events, server, token, project)
    for task in patched:
        _, activity = await asyncio.to_thread(api, server, "GET", f"/api/tasks/{task}/activity/", None, token)
        assert fresh["tasks"][task]["version"] == 1 + edits[task]
        assert fresh["tasks"][task]["labels"] == ["offline"] and fresh["tasks"][task]["priority"] == "high"
        updates = [event for event in events if event["type"] == "task.updated" and event["data"]["id"] == task]
        assert len(updates) == edits[task]
        assert [entry["kind"] for entry in activity["results"]].count("task.updated") == edits[task]


def test_a_lost_answer_is_asked_again_with_the_same_key_and_replayed(server, tmp_path):
    username, token = _sign_up(server)
    project = _project(server, token)
    proxy = TCPProxy(("127.0.0.1", server.port))
    proxy.start()
    try:
        client = Client(f"http://127.0.0.1:{proxy.port}", username=username, password=PASSWORD)
        client.renew()  # signed in before answers start to get lost
        proxy.lose_answers(2)
        with WriteQueue(tmp_path / "queue.sqlite3") as queue:
            queued = queue.add("POST", "/api/tasks/", {"project": project, "title": "Said once"})
            assert queue.drain(client, timeout=DRAIN_SECONDS) == []
            sent = queue.get(queued.id)
    finally:
        proxy.stop()

    assert (sent.state, sent.status, sent.replayed, sent.attempts) == ("done", 201, True, 3)
    fresh = _fresh(server, token, project)
    assert [task["title"] for task in fresh["tasks"].values()] == ["Said once"]
    assert sent.response == next(iter(fresh["tasks"].values()))
    assert [event["type"] for event in _events(server, token, project)] == ["member.added", "task.created"]


def test_refused_writes_fail_with_their_answer_and_the_next_ones_are_sent(server, tmp_path):
    username, token = _sign_up(server)
    project = _project(server, token)
    task = _task(server, token, project, "Versioned")
    # A project of someone else's, where the user only looks.
    _, owner_token = _sign_up(server)
    foreign = _project(server, owner_token)
    status, _ = api(
        server, "POST", f"/api/projects/{foreign}/members/", {"user": username, "role": "viewer"}, owner_token
    )
    assert status == 201
    client = Client(server.http, username=username, password=PASSWORD)

    with WriteQueue(tmp_path / "queue.sqlite3") as queue:
        queued = [
            queue.add("POST", "/api/tasks/", {"project": project, "title": ""}),
            queue.add("POST", "/api/tasks/", {"project": foreign, "title": "Not mine to add"}),
            queue.add("PATCH", "/api/tasks/999999999/", {"title": "Nobody's"}),
            queue.add("PATCH", f"/api/tasks/{task}/", {"title": "From an old copy"}, if_match=7),
            queue.add("POST", "/api/tasks/", {"project": project, "title": "Still sent"}),
        ]
        assert queue.drain(client, timeout=DRAIN_SECONDS) == []
        blank, viewer, missing, stale, fine = (queue.get(write.id) for write in queued)

    assert [(write.state, write.status) for write in (blank, viewer, missing, stale, fine)] == [
        ("failed", 400),
        ("failed", 403),
        ("failed", 404),
        ("failed", 412),
        ("done", 201),
    ]
    assert "title" in blank.response
    assert "detail" in viewer.response and "detail" in missing.response
    assert stale.response["title"] == "Versioned" and stale.response["version"] == 1
    assert sorted(task["title"] for task in _fresh(server, token, project)["tasks"].values()) == [
        "Still sent",
        "Versioned",
    ]


def test_a_write_queued_before_the_program_stopped_is_sent_once_after_it_starts_again(server, tmp_path):
    username, token = _sign_up(server)
    project = _project(server, token)
    path = tmp_path / "queue.sqlite3"
    offline = Client(f"http://127.0.0.1:{free_port()}", username=username, password=PASSWORD)
    with WriteQueue(path) as queue:
        queued = queue.add("POST", "/api/tasks/", {"project": project, "title": "Queued offline"})
        report = queue.send_pending(offline)
        assert report.finished == [] and report.stopped_at.state == "pending"

    # The program starts again: a new client, and the queue from its file.
    client = Client(server.http, username=username, password=PASSWORD)
    with WriteQueue(path) as queue:
        [pending] = queue.writes("pending")
        assert (pending.key, pending.body, pending.attempts) == (queued.key, queued.body, 1)
        assert queue.drain(client, timeout=DRAIN_SECONDS) == []
        sent = queue.get(queued.id)
        assert queue.remove_finished() == 1
        assert queue.writes() == []

    assert (sent.state, sent.status, sent.replayed, sent.attempts) == ("done", 201, False, 2)
    assert [task["title"] for task in _fresh(server, token, project)["tasks"].values()] == ["Queued offline"]


# --- Signing in with a token, and following -------------------------------------------------------


async def test_a_personal_access_token_signs_in_requests_and_follow_until_it_is_revoked(server):
    username, token = await asyncio.to_thread(_sign_up, server)
    project = await asyncio.to_thread(_project, server, token)
    status, made = await asyncio.to_thread(
        api, server, "POST", "/api/auth/tokens/", {"name": "release bot", "scope": "write"}, token
    )
    assert status == 201
    client = Client(server.http, token=made["token"])

    assert (await asyncio.to_thread(client.me))["username"] == username
    created = await asyncio.to_thread(
        client.request, "POST", "/api/tasks/", {"project": project, "title": "By the bot"}
    )
    assert created.status == 201
    mirror = ProjectMirror()
    follower = asyncio.create_task(follow(client, mirror, project))
    await asyncio.to_thread(api, server, "PATCH", f"/api/tasks/{created.body['id']}/", {"status": "done"}, token)
    fresh = await _until_in_sync(mirror, server, token, project)
    assert fresh["tasks"][created.body["id"]]["status"] == "done"

    status, _ = await asyncio.to_thread(api, server, "DELETE", f"/api/auth/tokens/{made['id']}/", None, token)
    assert status == 204
    # The socket is closed (4401); the client cannot sign in again with a token, so follow() ends.
    with pytest.raises(ApiError) as refused:
        await asyncio.wait_for(follower, 15)
    assert refused.value.status == 401
    with pytest.raises(ApiError) as refused:
        await asyncio.to_thread(client.me)
    assert refused.value.status == 401


async def test_a_filtered_copy_drops_tasks_leaving_the_view_and_counts_skipped_seqs(server):
    username, token = await asyncio.to_thread(_sign_up, server)
    project = await asyncio.to_thread(_project, server, token)
    leaving = await asyncio.to_thread(_task, server, token, project, "Done soon")
    staying = await asyncio.to_thread(_task, server, token, project, "Stays to do")
    elsewhere = await asyncio.to_thread(_task, server, token, project, "Started", status="in_progress")
    client = Client(server.http, username=username, password=PASSWORD)
    mirror = ProjectMirror(filter={"status": ["todo"]})
    received = []
    follower = asyncio.create_task(follow(client, mirror, project, on_event=lambda _, frame: received.append(frame)))
    await _until_in_sync(mirror, server, token, project, "&status=todo")
    assert set(mirror.tasks) == {leaving, staying}

    for task, change in [
        (leaving, {"status": "done"}),
        (elsewhere, {"title": "Started, renamed"}),
        (staying, {"title": "Still to do"}),
        (elsewhere, {"priority": "urgent"}),  # the last seq is one outside the view: a skip
    ]:
        status, _ = await asyncio.to_thread(api, server, "PATCH", f"/api/tasks/{task}/", change, token)
        assert status == 200
    fresh = await _until_in_sync(mirror, server, token, project, "&status=todo")
    follower.cancel()

    assert set(mirror.tasks) == {staying} and mirror.tasks[staying]["title"] == "Still to do"
    assert mirror.seq == fresh["seq"]
    assert [(frame["event"], frame["data"]["id"]) for frame in received] == [
        ("task.updated", leaving),
        ("task.updated", staying),
    ]


async def test_a_filter_the_server_refuses_is_a_value_error(server):
    username, token = await asyncio.to_thread(_sign_up, server)
    project = await asyncio.to_thread(_project, server, token)
    client = Client(server.http, username=username, password=PASSWORD)
    # Refused by the task list of the load, and by the subscription.
    for view in ({"status": ["someday"]}, {"labels": [""]}):
        with pytest.raises(ValueError, match="refused"):
            await asyncio.wait_for(follow(client, ProjectMirror(filter=view), project), 15)
