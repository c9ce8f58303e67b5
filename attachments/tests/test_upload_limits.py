"""Upload routes have a body limit of their own, on real servers (Daphne and uvicorn, the embedded
default: a SQLite file of the module's own, no Redis, so these run in both passes).

The servers are started with a small TASKFLOW_MAX_UPLOAD_BYTES (2 MiB, twice TASKFLOW_MAX_BODY_BYTES),
so a file of exactly that size proves the upload route's own limit (taskflow.http.limits): it is
201, one byte more is a JSON 413 from the upload's handler, a Content-Length over the route's limit
is a 413 before any body is sent, and other routes keep the 1 MiB limit. A malformed multipart body
is a JSON 400 from Django under both servers (Twisted does not parse it first under Daphne:
taskflow.http.daphne_body_limit). Raw HTTP over a socket, so the test decides what is sent.

The tripwires at the end name the Twisted internals taskflow.http.daphne_body_limit relies on.
"""

import hashlib
import inspect
import json
import os
import uuid
from contextlib import suppress

import pytest
from daphne import http_protocol
from django.conf import settings
from twisted.internet.testing import StringTransport
from twisted.web import http

from realtime.tests.servers import TaskFlowServer, api, migrated_sqlite_url, raw_connect, read_response, request_head
from taskflow.http.daphne_body_limit import BoundedWebRequest, body_limit_install
from taskflow.http.limits import MULTIPART_OVERHEAD_BYTES

UPLOAD_LIMIT = 2 * 1024 * 1024
BODY_LIMIT = settings.TASKFLOW_MAX_BODY_BYTES
BOUNDARY = "taskflow-upload-limit-boundary"


@pytest.fixture(scope="module")
def database_url(tmp_path_factory) -> str:
    """A migrated SQLite file that the module's servers share."""
    return migrated_sqlite_url(tmp_path_factory.mktemp("upload-limits"))


@pytest.fixture(scope="module", params=["daphne", "uvicorn"])
def server(request, database_url, tmp_path_factory):
    server = TaskFlowServer(
        server=request.param,
        database_url=database_url,
        redis_url="",
        channel_prefix="upload-limits",
        MEDIA_ROOT=str(tmp_path_factory.mktemp(f"media-{request.param}")),
        TASKFLOW_MAX_UPLOAD_BYTES=str(UPLOAD_LIMIT),
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def task_of(server) -> dict:
    """A user signed in (`token`) and a task of theirs (`task`) on this server, made through its API."""
    name = f"uploader-{uuid.uuid4().hex[:8]}"
    account = {"username": name, "email": f"{name}@example.com", "password": "a-long-passphrase-1"}
    assert api(server, "POST", "/api/auth/register/", account)[0] == 201
    _, tokens = api(server, "POST", "/api/auth/token/", {"username": name, "password": account["password"]})
    status, project = api(server, "POST", "/api/projects/", {"name": "Uploads"}, tokens["access"])
    assert status == 201, project
    status, task = api(
        server, "POST", "/api/tasks/", {"project": project["id"], "title": "Big files"}, tokens["access"]
    )
    assert status == 201, task
    return {"token": tokens["access"], "task": task["id"]}


def multipart(content: bytes, filename: str = "big.bin") -> bytes:
    return (
        (
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def post(server, path: str, body: bytes, content_type: str, token: str) -> tuple[int, dict[str, str], bytes]:
    """A POST with its whole body; the server may answer and close before it has all of it."""
    headers = {"Content-Type": content_type, "Content-Length": str(len(body)), "Authorization": f"Bearer {token}"}
    with raw_connect(server, timeout=10) as sock:
        sock.sendall(request_head("POST", path, headers))
        # The server may have answered already and closed: the response is read below.
        with suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(body)
        return read_response(sock)


def upload(server, task_of, body: bytes, content_type: str = f"multipart/form-data; boundary={BOUNDARY}"):
    return post(server, f"/api/tasks/{task_of['task']}/attachments/", body, content_type, task_of["token"])


def json_answer(status: int, headers: dict[str, str], body: bytes, expected: int) -> dict:
    assert status == expected, body[:500]
    assert headers["content-type"] == "application/json", headers
    return json.loads(body)


def test_a_file_of_exactly_the_upload_limit_is_stored(server, task_of):
    content = os.urandom(UPLOAD_LIMIT)
    assert UPLOAD_LIMIT > BODY_LIMIT

    body = json_answer(*upload(server, task_of, multipart(content)), expected=201)

    assert body["size"] == UPLOAD_LIMIT
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    with raw_connect(server, timeout=10) as sock:
        sock.sendall(
            request_head(
                "GET", f"/api/attachments/{body['id']}/download/", {"Authorization": f"Bearer {task_of['token']}"}
            )
        )
        status, _, downloaded = read_response(sock)
    assert status == 200
    assert hashlib.sha256(downloaded).hexdigest() == body["sha256"]


def test_a_file_one_byte_over_the_upload_limit_is_a_json_413(server, task_of):
    _, attachments = api(server, "GET", f"/api/tasks/{task_of['task']}/attachments/", token=task_of["token"])

    answer = json_answer(*upload(server, task_of, multipart(b"z" * (UPLOAD_LIMIT + 1))), expected=413)

    assert answer == {"detail": "The file is larger than the largest attachment allowed."}
    _, after = api(server, "GET", f"/api/tasks/{task_of['task']}/attachments/", token=task_of["token"])
    assert after["results"] == attachments["results"]


def test_a_content_length_over_the_upload_routes_limit_is_413_before_the_body_is_sent(server, task_of):
    headers = {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(UPLOAD_LIMIT + MULTIPART_OVERHEAD_BYTES + 1),
        "Authorization": f"Bearer {task_of['token']}",
    }
    with raw_connect(server, timeout=10) as sock:
        sock.sendall(request_head("POST", f"/api/tasks/{task_of['task']}/attachments/", headers))
        answer = json_answer(*read_response(sock), expected=413)
    assert answer == {"detail": "Request body too large."}


def test_a_json_body_over_the_body_limit_is_still_413_on_other_routes(server, task_of):
    # Larger than TASKFLOW_MAX_BODY_BYTES, smaller than the upload limit.
    body = json.dumps({"body": "x" * (BODY_LIMIT + 1024)}).encode()
    assert BODY_LIMIT < len(body) < UPLOAD_LIMIT

    answer = json_answer(
        *post(server, f"/api/tasks/{task_of['task']}/comments/", body, "application/json", task_of["token"]),
        expected=413,
    )
    assert answer == {"detail": "Request body too large."}


def test_a_malformed_multipart_body_is_a_json_400(server, task_of):
    answer = json_answer(*upload(server, task_of, f"--{BOUNDARY}--\r\n".encode()), expected=400)
    assert answer


# --- Tripwires: the Twisted internals taskflow.http.daphne_body_limit relies on ---------------------


def test_twisted_requests_still_take_parse_post_form_submission():
    parameter = inspect.signature(http.Request.__init__).parameters["parsePOSTFormSubmission"]
    assert parameter.default is True
    assert "self._parsePOSTFormSubmission" in inspect.getsource(http.Request.requestReceived)


class _Server:
    """What Daphne's request asks of its server when it is made: to be told of it."""

    def __init__(self) -> None:
        self.requests: list = []

    def protocol_connected(self, request) -> None:
        self.requests.append(request)


def test_daphnes_channel_builds_bounded_requests_that_leave_multipart_to_django():
    server = _Server()
    factory = http_protocol.HTTPFactory(server)
    body_limit_install(factory)
    channel = factory.buildProtocol(None)
    channel.makeConnection(StringTransport())

    channel.dataReceived(b"POST /api/tasks/1/attachments/?x=1 HTTP/1.1\r\n")

    [request] = server.requests
    assert isinstance(request, BoundedWebRequest)
    assert request._parsePOSTFormSubmission is False
    # The request line's target, which BoundedWebRequest.gotLength reads before the request has a path.
    assert request.channel._path == b"/api/tasks/1/attachments/?x=1"
    assert "self._path = " in inspect.getsource(http.HTTPChannel)
    assert "gotLength" in inspect.getsource(http.HTTPChannel)
    assert "handleContentChunk" in inspect.getsource(http.HTTPChannel)
