"""Idempotent writes on real servers: a retry that reaches another server process is answered from
the key kept in the database, and a keyed upload is not held in a server's memory either.

Two processes, Daphne and uvicorn, share the database: in the MySQL + Redis pass the test database
and Redis; in the embedded pass a migrated SQLite file (and no Redis), so these run in both.
"""

import json
import os
import urllib.error
import urllib.request
import uuid

import pytest

from attachments.tests.test_upload_memory import peak_memory_bytes, serving_process
from realtime.tests.servers import TaskFlowServer, api, started

KEY = "retry-9f2c5e1a"
UPLOAD_BYTES = 24 * 1024 * 1024


ON_MYSQL = os.environ.get("DATABASE_URL", "").startswith("mysql")
# The servers share the test database in the MySQL pass: its rows are committed, then flushed.
pytestmark = [pytest.mark.django_db(transaction=True)] if ON_MYSQL else []


@pytest.fixture
def two_servers(servers_database, tmp_path):
    """A Daphne and a uvicorn process on one database (and one Redis in the MySQL pass)."""
    prefix = f"idem{uuid.uuid4().hex[:8]}"
    servers = [
        TaskFlowServer(server=kind, channel_prefix=prefix, MEDIA_ROOT=str(tmp_path / "media"), **servers_database)
        for kind in ("daphne", "uvicorn")
    ]
    with started(servers):
        yield servers


def send(server: TaskFlowServer, method: str, path: str, body: bytes, *, token: str, content_type: str, key: str):
    """One request with an `Idempotency-Key`; returns (status, headers, body bytes)."""
    request = urllib.request.Request(
        server.http + path,
        method=method,
        data=body,
        headers={"Content-Type": content_type, "Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def send_json(server, method: str, path: str, body: dict, *, token: str, key: str = KEY):
    return send(server, method, path, json.dumps(body).encode(), token=token, content_type="application/json", key=key)


def upload_body(boundary: str, content: bytes) -> bytes:
    return (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="video.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )


def send_upload(server, task: int, content: bytes, *, token: str, key: str = KEY):
    boundary = uuid.uuid4().hex  # a new one for each request, as curl does
    return send(
        server,
        "POST",
        f"/api/tasks/{task}/attachments/",
        upload_body(boundary, content),
        token=token,
        content_type=f"multipart/form-data; boundary={boundary}",
        key=key,
    )


def team(server: TaskFlowServer) -> tuple[str, int, int]:
    """A user with a project and a task, made through the API; returns (token, project, task)."""
    name = f"idem-{uuid.uuid4().hex[:8]}"
    account = {"username": name, "email": f"{name}@example.com", "password": "a-long-passphrase-1"}
    assert api(server, "POST", "/api/auth/register/", account)[0] == 201
    token = api(server, "POST", "/api/auth/token/", {"username": name, "password": account["password"]})[1]["access"]
    status, project = api(server, "POST", "/api/projects/", {"name": "Retries"}, token)
    assert status == 201, project
    status, task = api(server, "POST", "/api/tasks/", {"project": project["id"], "title": "Files"}, token)
    assert status == 201, task
    return token, project["id"], task["id"]


def test_a_retry_on_the_other_server_process_is_replayed_and_writes_nothing(two_servers):
    daphne, uvicorn = two_servers
    token, project, _ = team(daphne)
    body = {"project": project, "title": "Sent twice"}

    first = send_json(daphne, "POST", "/api/tasks/", body, token=token)
    retry = send_json(uvicorn, "POST", "/api/tasks/", body, token=token)
    other = send_json(uvicorn, "POST", "/api/tasks/", {**body, "title": "Another"}, token=token)

    assert (first[0], retry[0], other[0]) == (201, 201, 422)
    assert retry[2] == first[2]
    assert (retry[1]["Idempotency-Replayed"], retry[1]["ETag"]) == ("true", first[1]["ETag"])
    assert first[1]["Idempotency-Replayed"] is None
    _, page = api(uvicorn, "GET", f"/api/tasks/?project={project}", token=token)
    assert sorted(task["title"] for task in page["results"]) == ["Files", "Sent twice"]
    _, feed = api(daphne, "GET", f"/api/projects/{project}/events/", token=token)
    assert [event["type"] for event in feed["events"]] == ["member.added", "task.created", "task.created"]


def test_a_large_keyed_upload_is_not_held_in_memory_and_its_retry_elsewhere_is_replayed(two_servers):
    daphne, uvicorn = two_servers
    token, _, task = team(daphne)
    content = os.urandom(UPLOAD_BYTES)
    pid = serving_process(daphne)
    before = peak_memory_bytes(pid)

    first = send_upload(daphne, task, content, token=token)
    grown = peak_memory_bytes(pid) - before
    retry = send_upload(uvicorn, task, content, token=token)
    # The last byte changed (flipped, so never by chance the same): another request, not a retry.
    another = send_upload(uvicorn, task, content[:-1] + bytes([content[-1] ^ 0xFF]), token=token)

    assert first[0] == 201, first[2]
    # Hashed for the key as the parser reads it: never the whole file in memory.
    assert grown < UPLOAD_BYTES // 2, f"peak memory grew by {grown} bytes"
    assert (retry[0], retry[1]["Idempotency-Replayed"], retry[2]) == (201, "true", first[2])
    assert another[0] == 422
    _, attachments = api(uvicorn, "GET", f"/api/tasks/{task}/attachments/", token=token)
    assert [attachment["id"] for attachment in attachments["results"]] == [json.loads(first[2])["id"]]
