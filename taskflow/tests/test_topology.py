"""The production topology as `bench/serve PORT` runs it: nginx on one port, HTTP-only uvicorn
processes behind it, WebSocket-only processes (uvicorn or Daphne) for `/ws/`.

Through that one port: REST reads and writes, the event of a write reaching a subscribed socket
within a second, the contract's close codes under either WebSocket server, the JSON 413 of an
oversize body (from the HTTP processes), and a SIGTERM that stops every process bench/serve started.

In the MySQL + Redis pass the processes share the test database and Redis, as in production. In
the embedded pass they share a SQLite file and have no Redis: the HTTP processes' events then
reach the WebSocket processes only through their check of the event log, run every
TASKFLOW_WS_CHECK_SECONDS, which is made short here so that the same second holds.
"""

import asyncio
import json
import os
import signal
import time
import uuid
from pathlib import Path

import pytest
import websockets

from realtime.tests.servers import (
    TopologyServer,
    api,
    process_running,
    raw_connect,
    read_response,
    request_head,
    wait_until,
)

pytestmark = [pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-passphrase-1"
MAX_FRAME_BYTES = 64 * 1024
EVENT_SECONDS = 1.0
SHUTDOWN_SECONDS = 4
# bench/serve kills what is still there this long after the servers' own graceful stop.
STOP_MARGIN_SECONDS = 3


def topology(ws_server: str, servers_database: dict, **settings: str) -> TopologyServer:
    # Without Redis the log check is the only way from the HTTP processes to the sockets.
    check = {} if servers_database["redis_url"] else {"TASKFLOW_WS_CHECK_SECONDS": "0.2"}
    return TopologyServer(
        ws_server=ws_server,
        channel_prefix=f"topo{uuid.uuid4().hex[:8]}",
        TASKFLOW_SHUTDOWN_SECONDS=str(SHUTDOWN_SECONDS),
        **check,
        **settings,
        **servers_database,
    )


@pytest.fixture(scope="module", params=["uvicorn", "daphne"])
def served(request, servers_database):
    """bench/serve on a free port, with WebSocket-only processes of each server in turn."""
    server = topology(request.param, servers_database)
    server.start()
    yield server
    server.stop()


def sign_up(server: TopologyServer) -> str:
    """A new user, registered and signed in through the port; returns an access token."""
    name = f"topo-{uuid.uuid4().hex[:8]}"
    account = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    assert api(server, "POST", "/api/auth/register/", account)[0] == 201
    status, tokens = api(server, "POST", "/api/auth/token/", {"username": name, "password": PASSWORD})
    assert status == 200, tokens
    return tokens["access"]


def project_with_task(server: TopologyServer, token: str) -> tuple[int, int]:
    status, project = api(server, "POST", "/api/projects/", {"name": "Topology"}, token)
    assert status == 201, project
    status, task = api(server, "POST", "/api/tasks/", {"project": project["id"], "title": "Route me"}, token)
    assert status == 201, task
    return project["id"], task["id"]


async def signed_in_socket(server: TopologyServer, token: str):
    ws = await websockets.connect(server.ws, max_size=2**20)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    assert json.loads(await ws.recv())["type"] == "auth.ok"
    return ws


async def close_code(ws, timeout: float = 5.0) -> int | None:
    """The code of the close frame the server sent (None: the connection dropped without one)."""

    async def closed():
        with pytest.raises(websockets.ConnectionClosed) as raised:
            while True:
                await ws.recv()
        return raised.value.rcvd.code if raised.value.rcvd is not None else None

    return await asyncio.wait_for(closed(), timeout)


def test_rest_reads_and_writes_go_through_the_port(served):
    token = sign_up(served)
    project, task = project_with_task(served, token)

    status, updated = api(served, "PATCH", f"/api/tasks/{task}/", {"status": "done"}, token)
    status_read, page = api(served, "GET", f"/api/tasks/?project={project}", token=token)

    assert status == 200 and updated["status"] == "done"
    assert status_read == 200
    assert [(row["id"], row["status"]) for row in page["results"]] == [(task, "done")]


async def test_a_subscribed_socket_gets_the_event_of_a_write_within_a_second(served):
    token = await asyncio.to_thread(sign_up, served)
    project, task = await asyncio.to_thread(project_with_task, served, token)
    ws = await signed_in_socket(served, token)
    await ws.send(json.dumps({"type": "subscribe", "project": project}))
    subscribed = json.loads(await ws.recv())
    assert subscribed["type"] == "subscribed"

    written = time.monotonic()
    status, _ = await asyncio.to_thread(api, served, "PATCH", f"/api/tasks/{task}/", {"title": "Moved"}, token)
    assert status == 200
    frame = json.loads(await asyncio.wait_for(ws.recv(), EVENT_SECONDS))
    arrived = time.monotonic() - written
    await ws.close()

    assert frame["type"] == "event" and frame["event"] == "task.updated", frame
    assert frame["seq"] == subscribed["seq"] + 1
    assert frame["data"]["title"] == "Moved"
    assert arrived < EVENT_SECONDS


async def test_a_bad_token_closes_4401(served):
    ws = await websockets.connect(served.ws)
    await ws.send(json.dumps({"type": "auth", "token": "not-a-token"}))

    assert await close_code(ws) == 4401


async def test_a_frame_over_64_kib_closes_1009(served):
    token = await asyncio.to_thread(sign_up, served)
    ws = await signed_in_socket(served, token)

    await ws.send(json.dumps({"type": "ping", "padding": "x" * MAX_FRAME_BYTES}))

    assert await close_code(ws) == 1009


def test_a_body_over_the_limit_is_answered_413_in_json_before_it_is_sent(served):
    from django.conf import settings

    head = {"Content-Type": "application/json", "Content-Length": str(10 * settings.TASKFLOW_MAX_BODY_BYTES)}
    with raw_connect(served) as sock:
        sock.sendall(request_head("POST", "/api/tasks/", head))
        status, headers, body = read_response(sock)

    assert status == 413, body
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"detail": "Request body too large."}


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/api/tasks/", 404, {"detail": "Not found."}),
        ("/", 404, {"detail": "Not found."}),
        ("/healthz", 200, {"status": "ok"}),
    ],
)
def test_websocket_processes_answer_only_their_health_checks_over_http(path, status, body):
    # nginx routes only /ws/ there; anything else that reaches one is a JSON 404, without Django.
    from taskflow.asgi import websocket_application

    messages = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    scope = {
        "type": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "method": "GET",
        "headers": [(b"host", b"127.0.0.1")],
        "query_string": b"",
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(websocket_application(scope, receive, send))

    assert messages[0]["status"] == status
    assert json.loads(b"".join(message.get("body", b"") for message in messages[1:])) == body


@pytest.mark.parametrize("ws_server", ["uvicorn", "daphne"])
async def test_sigterm_stops_every_process_it_started_within_the_shutdown_bound(ws_server, servers_database):
    server = topology(ws_server, servers_database)
    await asyncio.to_thread(server.start)
    try:
        token = await asyncio.to_thread(sign_up, server)
        ws = await signed_in_socket(server, token)
        pids = server.processes()
        # bench/serve; nginx and its worker; taskflow.serve and its server process, for each protocol.
        assert len(pids) >= 7, pids

        stopping = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = await close_code(ws, timeout=SHUTDOWN_SECONDS)
        exit_code = await asyncio.to_thread(server.process.wait, SHUTDOWN_SECONDS + STOP_MARGIN_SECONDS)
        stopped = time.monotonic() - stopping
    finally:
        server.stop()

    # Sockets are told to reconnect elsewhere (1012, service restart), not dropped.
    assert code == 1012
    assert exit_code == 0, server.log()
    assert stopped < SHUTDOWN_SECONDS + STOP_MARGIN_SECONDS
    wait_until(lambda: not any(process_running(pid) for pid in pids), timeout=1, what="every process gone")


def serves_http(command: list[bytes]) -> bool:
    return b"taskflow.server_process" in command and command[command.index(b"--only") + 1] == b"http"


def test_http_processes_refuse_websocket_handshakes():
    # nginx routes /ws/ elsewhere; a handshake that reaches an HTTP process is closed unaccepted (403).
    from taskflow.asgi import http_application

    messages = []

    async def receive():
        return {"type": "websocket.connect"}

    async def send(message):
        messages.append(message)

    scope = {
        "type": "websocket",
        "path": "/ws/",
        "raw_path": b"/ws/",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "query_string": b"",
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "subprotocols": [],
    }
    asyncio.run(http_application(scope, receive, send))

    assert messages == [{"type": "websocket.close"}]


def test_it_exits_non_zero_and_stops_the_rest_when_one_of_its_processes_dies(servers_database):
    server = topology("uvicorn", servers_database)
    server.start()
    try:
        pids = server.processes()
        # The HTTP server process (not its taskflow.serve parent): as if it crashed.
        http = next(pid for pid in pids if serves_http(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")))
        os.kill(http, signal.SIGKILL)
        exit_code = server.process.wait(SHUTDOWN_SECONDS + STOP_MARGIN_SECONDS)
    finally:
        server.stop()

    assert exit_code == 1
    wait_until(lambda: not any(process_running(pid) for pid in pids), timeout=10, what="every process gone")
