"""Reminders under the embedded default, served as `make run` serves it: they reach the sockets.

The in-memory channel layer does not cross processes, so these run against a real server (Daphne,
the worker inside it, a SQLite file, no Redis) in a process of its own, whichever database and
Redis the rest of the suite uses.
"""

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import websockets

from realtime.tests.servers import api

DEMO_PASSWORD = "taskflow-demo"


def sign_in(server, username: str) -> str:
    status, tokens = api(server, "POST", "/api/auth/token/", {"username": username, "password": DEMO_PASSWORD})
    assert status == 200, tokens
    return tokens["access"]


async def authenticated_socket(server, token: str):
    socket = await websockets.connect(server.ws)
    await socket.send(json.dumps({"type": "auth", "token": token}))
    assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "auth.ok"
    return socket


async def test_reminder_reaches_the_assignee_socket_under_make_run(embedded_taskflow):
    token = sign_in(embedded_taskflow, "demo-member")
    _, me = api(embedded_taskflow, "GET", "/api/auth/me/", token=token)
    _, projects = api(embedded_taskflow, "GET", "/api/projects/", token=token)
    project = projects["results"][0]["id"]
    socket = await authenticated_socket(embedded_taskflow, token)
    try:
        # Due within the reminder lead (an hour): the reminder is due at once.
        due_at = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
        started = time.monotonic()
        status, task = await asyncio.to_thread(
            api,
            embedded_taskflow,
            "POST",
            "/api/tasks/",
            {"project": project, "title": "Renew the certificate", "assignee": me["id"], "due_at": due_at},
            token,
        )
        assert status == 201, task

        frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
        elapsed = time.monotonic() - started
    finally:
        await socket.close()

    assert frame["type"] == "notification"
    assert frame["kind"] == "task.due"
    assert frame["task"] == task["id"]
    assert frame["data"]["task"] == {
        "id": task["id"],
        "project": project,
        "project_name": "TaskFlow demo",
        "title": "Renew the certificate",
        "due_at": task["due_at"],
    }
    # The worker polls every second: the frame comes within a few, not at the next periodic check.
    assert elapsed < 5, elapsed


async def test_reminder_goes_to_the_assignee_only(embedded_taskflow):
    member_token, viewer_token = sign_in(embedded_taskflow, "demo-member"), sign_in(embedded_taskflow, "demo-viewer")
    _, me = api(embedded_taskflow, "GET", "/api/auth/me/", token=member_token)
    _, projects = api(embedded_taskflow, "GET", "/api/projects/", token=member_token)
    viewer_socket = await authenticated_socket(embedded_taskflow, viewer_token)
    member_socket = await authenticated_socket(embedded_taskflow, member_token)
    try:
        due_at = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
        body = {"project": projects["results"][0]["id"], "title": "Rotate keys", "assignee": me["id"], "due_at": due_at}
        status, _ = await asyncio.to_thread(api, embedded_taskflow, "POST", "/api/tasks/", body, member_token)
        assert status == 201
        assert json.loads(await asyncio.wait_for(member_socket.recv(), 10))["data"]["task"]["title"] == "Rotate keys"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(viewer_socket.recv(), 1.5)
    finally:
        await viewer_socket.close()
        await member_socket.close()


def test_make_run_serves_one_process_with_the_worker_inside(embedded_taskflow):
    """No `manage.py worker` beside it: the only child of `taskflow.serve` is the server."""
    children = (
        Path(f"/proc/{embedded_taskflow.process.pid}/task/{embedded_taskflow.process.pid}/children").read_text().split()
    )
    assert len(children) == 1
    command = Path(f"/proc/{children[0]}/cmdline").read_bytes().split(b"\0")
    assert b"taskflow.server_process" in command and b"--worker" in command
