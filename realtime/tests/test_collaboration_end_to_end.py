"""End to end on real servers: a comment, an upload and a checklist change made by one member
through one TaskFlow process reach another member's socket on another process, in order, with
consecutive seqs; and the file uploaded through one process downloads through the other.

Two processes (Daphne, then uvicorn) share MySQL, Redis and the attachments' folder, as replicas
of a deployment do, so these run in the MySQL + Redis pass.
"""

import asyncio
import hashlib
import json
import os
import urllib.request
import uuid

import pytest
import websockets

from realtime.tests.servers import TaskFlowServer, api
from realtime.tests.test_end_to_end import SERVERS, _require_mysql_and_redis, _servers

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=SERVERS)
def two_replicas(request, tmp_path):
    """Processes A and B on the shared database and Redis, storing files in one folder."""
    _require_mysql_and_redis()
    servers = _servers(request.param, os.environ["REDIS_URL"], MEDIA_ROOT=str(tmp_path / "media"))
    yield servers
    for server in servers:
        server.stop()


def _user(server: TaskFlowServer) -> tuple[str, int]:
    """A new user, signed in: (access token, id)."""
    name = f"collab-{uuid.uuid4().hex[:8]}"
    password = "a-long-passphrase-1"
    status, user = api(
        server, "POST", "/api/auth/register/", {"username": name, "email": f"{name}@example.com", "password": password}
    )
    assert status == 201
    status, tokens = api(server, "POST", "/api/auth/token/", {"username": name, "password": password})
    assert status == 200
    return tokens["access"], user["id"]


def _upload(server: TaskFlowServer, task: int, token: str, filename: str, content: bytes) -> tuple[int, dict]:
    """A multipart upload of one file, as a browser's form would send it."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{server.http}/api/tasks/{task}/attachments/",
        method="POST",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def _download(server: TaskFlowServer, attachment: int, token: str) -> tuple[bytes, dict]:
    request = urllib.request.Request(
        f"{server.http}/api/attachments/{attachment}/download/", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read(), {name.lower(): value for name, value in response.headers.items()}


async def _subscribed(server: TaskFlowServer, token: str, project: int):
    socket = await websockets.connect(server.ws, max_size=2**20)
    await socket.send(json.dumps({"type": "auth", "token": token}))
    assert json.loads(await socket.recv())["type"] == "auth.ok"
    await socket.send(json.dumps({"type": "subscribe", "project": project}))
    while (frame := json.loads(await asyncio.wait_for(socket.recv(), 10)))["type"] != "subscribed":
        assert frame["type"] == "event", frame
    return socket


async def test_a_comment_an_upload_and_a_checklist_reach_another_member_in_order(two_replicas):
    a, b = two_replicas
    owner_token, _ = await asyncio.to_thread(_user, a)
    member_token, member_id = await asyncio.to_thread(_user, a)
    _, project = await asyncio.to_thread(api, a, "POST", "/api/projects/", {"name": "Launch"}, owner_token)
    status, _ = await asyncio.to_thread(
        api, a, "POST", f"/api/projects/{project['id']}/members/", {"user": member_id}, owner_token
    )
    assert status == 201
    _, task = await asyncio.to_thread(
        api, a, "POST", "/api/tasks/", {"project": project["id"], "title": "Ship"}, owner_token
    )
    _, before = await asyncio.to_thread(api, a, "GET", f"/api/projects/{project['id']}/", None, owner_token)
    socket = await _subscribed(b, member_token, project["id"])

    content = b"release notes\n" * 1000
    status, comment = await asyncio.to_thread(
        api, a, "POST", f"/api/tasks/{task['id']}/comments/", {"body": "Draft is attached"}, owner_token
    )
    assert status == 201
    status, attachment = await asyncio.to_thread(_upload, a, task["id"], owner_token, "notes.txt", content)
    assert status == 201
    status, changed = await asyncio.to_thread(
        api,
        a,
        "PATCH",
        f"/api/tasks/{task['id']}/",
        {"checklist": [{"text": "Write notes", "done": True}, {"text": "Tag the release"}]},
        owner_token,
    )
    assert status == 200

    frames = [json.loads(await asyncio.wait_for(socket.recv(), 5)) for _ in range(3)]
    await socket.close()

    first = before["event_seq"] + 1
    assert [(frame["event"], frame["seq"]) for frame in frames] == [
        ("comment.created", first),
        ("attachment.added", first + 1),
        ("task.updated", first + 2),
    ]
    assert frames[0]["data"] == comment
    assert frames[1]["data"] == attachment
    assert frames[2]["data"] == changed
    assert [item["text"] for item in frames[2]["data"]["checklist"]] == ["Write notes", "Tag the release"]
    assert attachment["sha256"] == hashlib.sha256(content).hexdigest()

    # The file stored through A downloads through B, to the member.
    downloaded, headers = await asyncio.to_thread(_download, b, attachment["id"], member_token)
    assert downloaded == content
    assert headers["content-disposition"] == 'attachment; filename="notes.txt"'
    assert headers["x-content-type-options"] == "nosniff"
