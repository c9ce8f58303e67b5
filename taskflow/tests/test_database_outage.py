"""The database goes away and comes back while a real server runs: clients get JSON 503s with
`Retry-After`, never a 500 or an HTML page; the process recovers by itself; and what the database
holds afterwards is exactly what was answered 201, with a gap-free event log.

The server reaches MariaDB through a TCP proxy of the test's own (realtime.tests.servers.TCPProxy):
stopping the proxy drops every connection and refuses new ones, which is what the server sees when
the database is down; starting it again brings the database back. The shared MariaDB itself is
never touched. These run in the MySQL + Redis pass.
"""

import json
import os
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
from django.db import connection, transaction

from realtime.models import Event
from realtime.tests.servers import TaskFlowServer, TCPProxy, database_address, shared_database_url, wait_until
from tasks.models import Project, Task

pytestmark = [pytest.mark.django_db(transaction=True)]

# How long the server may take to answer writes again once the database is back.
RECOVERY_SECONDS = 10


@pytest.fixture
def database_proxy():
    if not os.environ.get("DATABASE_URL", "").startswith("mysql") or not os.environ.get("REDIS_URL"):
        pytest.skip("a database outage needs MariaDB behind a proxy; this runs in the MySQL + Redis pass")
    proxy = TCPProxy(database_address())
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def server(database_proxy):
    server = TaskFlowServer(
        server="uvicorn",
        database_url=shared_database_url(port=database_proxy.port),
        redis_url=os.environ["REDIS_URL"],
        channel_prefix=f"outage{uuid.uuid4().hex[:8]}",
    )
    server.start()
    yield server
    server.stop()


def call(server: TaskFlowServer, method: str, path: str, body: dict | None = None, token: str | None = None, **headers):
    """One request; returns (status, headers, body bytes), whatever the status."""
    request = urllib.request.Request(
        server.http + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
            **headers,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def team(server: TaskFlowServer) -> tuple[str, int]:
    """A user and a project of theirs, made through the API; returns (token, project id)."""
    name = f"outage-{uuid.uuid4().hex[:8]}"
    password = "a-long-passphrase-1"
    account = {"username": name, "email": f"{name}@example.com", "password": password}
    assert call(server, "POST", "/api/auth/register/", account)[0] == 201
    status, _, tokens = call(server, "POST", "/api/auth/token/", {"username": name, "password": password})
    assert status == 200
    token = json.loads(tokens)["access"]
    status, _, project = call(server, "POST", "/api/projects/", {"name": "Outage"}, token)
    assert status == 201
    return token, json.loads(project)["id"]


def assert_unavailable(status, headers, body) -> None:
    """A 503 in DRF's shape that tells the client when to try again."""
    assert status == 503, body
    assert headers["Content-Type"] == "application/json", body
    assert set(json.loads(body)) == {"detail"}
    assert 1 <= int(headers["Retry-After"]) <= 10


def assert_log_matches_tasks(project_id: int, created: set[int]) -> None:
    """The database holds exactly the `created` tasks, and the log exactly their events."""
    assert set(Task.objects.filter(project_id=project_id).values_list("pk", flat=True)) == created
    events = list(Event.objects.filter(project_id=project_id).order_by("seq"))
    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    assert [event.type for event in events] == ["member.added"] + ["task.created"] * len(created)
    assert {event.data["id"] for event in events[1:]} == created
    assert Project.objects.get(pk=project_id).event_seq == len(events)


def create(server: TaskFlowServer, token: str, project_id: int, title: str):
    return call(server, "POST", "/api/tasks/", {"project": project_id, "title": title}, token)


def test_writes_while_the_database_is_down_get_503_and_succeed_again_once_it_is_back(server, database_proxy):
    token, project_id = team(server)
    created = set()
    for index in range(3):
        status, _, body = create(server, token, project_id, f"before {index}")
        assert status == 201, body
        created.add(json.loads(body)["id"])
    process = server.process.pid

    database_proxy.stop()
    for index in range(10):
        assert_unavailable(*create(server, token, project_id, f"during {index}"))
    status, _, body = call(server, "GET", "/readyz")
    assert (status, json.loads(body)["checks"]["database"]) == (503, "unavailable")

    database_proxy.start()
    back = time.monotonic()
    while True:
        status, headers, body = create(server, token, project_id, "after")
        if status == 201:
            created.add(json.loads(body)["id"])
            break
        assert_unavailable(status, headers, body)
        assert time.monotonic() - back < RECOVERY_SECONDS, "writes did not succeed again once the database was back"
    for index in range(10):
        status, _, body = create(server, token, project_id, f"after {index}")
        assert status == 201, body
        created.add(json.loads(body)["id"])

    assert server.process.pid == process and server.process.poll() is None
    assert call(server, "GET", "/readyz")[0] == 200
    assert_log_matches_tasks(project_id, created)


def test_every_kind_of_request_gets_a_json_503_while_the_database_is_down(server, database_proxy):
    token, project_id = team(server)
    status, _, body = create(server, token, project_id, "existing")
    task_id = json.loads(body)["id"]

    database_proxy.stop()
    requests = [
        ("GET", f"/api/tasks/?project={project_id}", None),
        ("GET", f"/api/tasks/{task_id}/", None),
        ("PATCH", f"/api/tasks/{task_id}/", {"title": "renamed"}),
        ("DELETE", f"/api/tasks/{task_id}/", None),
        ("GET", f"/api/projects/{project_id}/events/", None),
        ("GET", "/api/auth/me/", None),
    ]
    for method, path, body in requests:
        assert_unavailable(*call(server, method, path, body, token))
    # Signing in reads the user: no token needed to meet the outage.
    assert_unavailable(*call(server, "POST", "/api/auth/token/", {"username": "someone", "password": "secret-words"}))
    # A browser's session is read by Django's middleware, outside the API's views.
    status, headers, body = call(server, "GET", "/admin/", Cookie=f"sessionid={'x' * 32}")
    assert status == 503, body
    assert 1 <= int(headers["Retry-After"]) <= 10

    database_proxy.start()
    assert_log_matches_tasks(project_id, {task_id})


def test_a_write_cut_off_inside_its_transaction_gets_503_and_leaves_nothing(server, database_proxy):
    token, project_id = team(server)
    answers = []

    def write() -> None:
        answers.append(create(server, token, project_id, "cut off"))

    writer = threading.Thread(target=write)
    # The test holds the project's row, so the server's create waits inside its transaction (on
    # the event counter) until the test cuts its connection.
    with transaction.atomic():
        Project.objects.select_for_update().get(pk=project_id)
        writer.start()
        wait_until(lambda: _waiting_on_the_counter(project_id), timeout=10, what="the create waiting for its lock")
        database_proxy.stop()
        writer.join(timeout=15)
    assert not writer.is_alive()
    [answer] = answers
    assert_unavailable(*answer)

    database_proxy.start()
    deadline = time.monotonic() + RECOVERY_SECONDS
    while (answer := create(server, token, project_id, "after"))[0] != 201:
        assert_unavailable(*answer)
        assert time.monotonic() < deadline, "writes did not succeed again once the database was back"
    assert_log_matches_tasks(project_id, {json.loads(answer[2])["id"]})


def _waiting_on_the_counter(project_id: int) -> bool:
    """Whether a session of this test database runs the statement that takes the project's next
    seq (tasks.event_counter.event_seq_next): while the test holds the row, it is waiting for it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s AND COMMAND = 'Query' AND INFO LIKE %s",
            [connection.settings_dict["NAME"], f"UPDATE %event_seq + 1) WHERE id = {project_id}"],
        )
        return cursor.fetchone()[0] > 0
