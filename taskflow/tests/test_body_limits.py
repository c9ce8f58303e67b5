"""Request bodies are held to TASKFLOW_MAX_BODY_BYTES while they arrive, on real servers.

Raw HTTP over a socket, so the test decides what is sent and when: a Content-Length over the
limit, a chunked body that never ends, a chunked body of the right size. Both servers TaskFlow
runs under (Daphne and uvicorn) are tried, on the embedded default (a SQLite file of the test's
own, no Redis), so these run in both passes.

Under uvicorn the ASGI handler enforces the limit (taskflow.http.handlers). Daphne reads the whole
body (Twisted) before the application sees the request, so there the limit needs
taskflow.http.daphne_body_limit installed in the Daphne server (taskflow.http.server_daphne); until it is,
the two limit tests are expected to fail under Daphne, and fail loudly once they pass.
"""

import json
import select
import uuid

import pytest
from django.conf import settings

from realtime.tests.servers import TaskFlowServer, api, migrated_sqlite_url, raw_connect, read_response, request_head

LIMIT = settings.TASKFLOW_MAX_BODY_BYTES


@pytest.fixture(scope="module")
def database_url(tmp_path_factory) -> str:
    """A migrated SQLite file that the module's servers share."""
    return migrated_sqlite_url(tmp_path_factory.mktemp("body-limits"))


@pytest.fixture(scope="module", params=["daphne", "uvicorn"])
def server(request, database_url):
    server = TaskFlowServer(server=request.param, database_url=database_url, redis_url="", channel_prefix="limits")
    server.start()
    yield server
    server.stop()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def assert_too_large(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 413, body
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"detail": "Request body too large."}


def test_a_content_length_over_the_limit_is_answered_413_before_any_body_is_sent(server):
    with raw_connect(server) as sock:
        sock.sendall(
            request_head(
                "POST", "/api/tasks/", {"Content-Type": "application/json", "Content-Length": str(300 * 1024 * 1024)}
            )
        )
        assert_too_large(*read_response(sock))


def test_a_chunked_body_growing_past_the_limit_is_answered_413_while_it_arrives(server):
    piece = b" " * 65536
    sent = 0
    with raw_connect(server) as sock:
        sock.sendall(
            request_head("POST", "/api/tasks/", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        )
        # Send until the answer comes, checking for it after each piece; the server may close
        # the connection meanwhile, which ends the sending too.
        while not select.select([sock], [], [], 0.01)[0]:
            assert sent < 10 * LIMIT, f"no answer after {sent} bytes of a body limited to {LIMIT}"
            try:
                sock.sendall(chunk(piece))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        assert_too_large(*read_response(sock))
    assert sent > LIMIT - len(piece)


def test_a_small_chunked_json_body_is_read_as_the_body_it_is(server):
    name = f"chunked-{uuid.uuid4().hex[:8]}"
    account = {"username": name, "email": f"{name}@example.com", "password": "a-long-passphrase-1"}
    assert api(server, "POST", "/api/auth/register/", account)[0] == 201
    _, tokens = api(server, "POST", "/api/auth/token/", {"username": name, "password": account["password"]})
    status, project = api(server, "POST", "/api/projects/", {"name": "Chunked"}, tokens["access"])
    assert status == 201
    body = json.dumps({"project": project["id"], "title": "Sent in pieces"}).encode()

    with raw_connect(server) as sock:
        head = {
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
            "Authorization": f"Bearer {tokens['access']}",
        }
        sock.sendall(request_head("POST", "/api/tasks/", head))
        for start in range(0, len(body), 7):
            sock.sendall(chunk(body[start : start + 7]))
        sock.sendall(b"0\r\n\r\n")
        status, _, answer = read_response(sock)

    assert status == 201, answer
    assert json.loads(answer)["title"] == "Sent in pieces"
    _, tasks = api(server, "GET", f"/api/tasks/?project={project['id']}", token=tokens["access"])
    assert [task["title"] for task in tasks["results"]] == ["Sent in pieces"]
