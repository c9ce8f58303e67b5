"""CORS: pages of the origins in CORS_ALLOWED_ORIGINS may call the API from a browser (preflights
answered without a login, with exactly the request headers the API reads; responses expose the
headers clients need) and open WebSockets; other origins get no CORS headers and no socket.

Most tests run in this process with the setting overridden; the last ones start real servers
with CORS_ALLOWED_ORIGINS in their environment, as a deployment sets it."""

import asyncio
import os
import subprocess
import sys
import urllib.request

import pytest
import websockets
from channels.testing import WebsocketCommunicator
from websockets.exceptions import InvalidStatus

from realtime.tests.servers import ROOT, TaskFlowServer, migrated_sqlite_url
from realtime.tests.websocket import FRAME_TIMEOUT, access_token, auth_ok
from taskflow.asgi import application
from tasks.tests.factories import make_task

pytestmark = pytest.mark.django_db

APP = "https://app.example.com"
LOCAL_APP = "http://localhost:3000"
OTHER = "https://evil.example.com"
ALLOWED_HEADERS = {"authorization", "content-type", "if-match", "if-none-match", "idempotency-key", "prefer"}
EXPOSED_HEADERS = {"etag", "x-event-seq", "retry-after", "idempotency-replayed", "preference-applied"}
CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Methods",
    "Access-Control-Expose-Headers",
    "Access-Control-Allow-Credentials",
    "Access-Control-Max-Age",
)


@pytest.fixture(autouse=True)
def allowed_origins(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP, LOCAL_APP]


def names(header: str) -> set[str]:
    return {name.strip().lower() for name in header.split(",")}


def preflight(api_client, path: str, origin: str, method: str = "PATCH", headers: str = "authorization, if-match"):
    return api_client.options(
        path, HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD=method, HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers
    )


# --- HTTP ---------------------------------------------------------------------------------------


def test_a_preflight_from_an_allowed_origin_allows_exactly_the_apis_headers(api_client):
    response = preflight(api_client, "/api/tasks/1/", APP)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert names(response["Access-Control-Allow-Headers"]) == ALLOWED_HEADERS
    assert names(response["Access-Control-Allow-Methods"]) == {"delete", "get", "options", "patch", "post", "put"}
    assert response["Access-Control-Max-Age"] == "86400"


def test_a_preflight_needs_no_login_whatever_the_path(api_client):
    for path in ("/api/tasks/", "/api/notifications/read-all/", "/api/auth/me/", "/api/projects/1/members/"):
        response = preflight(api_client, path, LOCAL_APP, method="POST", headers="authorization, content-type")
        assert (path, response.status_code) == (path, 200)
        assert response["Access-Control-Allow-Origin"] == LOCAL_APP


def test_a_preflight_from_another_origin_gets_no_cors_headers(api_client):
    response = preflight(api_client, "/api/tasks/1/", OTHER)

    assert [name for name in CORS_HEADERS if name in response] == []


def test_no_credentials_are_allowed(api_client):
    """The API takes bearer tokens, never cookies, from other origins."""
    assert "Access-Control-Allow-Credentials" not in preflight(api_client, "/api/tasks/", APP)


def test_a_response_to_an_allowed_origin_exposes_the_apis_headers(client, project):
    task = make_task(project=project)

    response = client.get(f"/api/tasks/{task.pk}/", HTTP_ORIGIN=APP)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert names(response["Access-Control-Expose-Headers"]) == EXPOSED_HEADERS
    assert "ETag" in response
    assert "origin" in names(response["Vary"])


def test_an_error_response_to_an_allowed_origin_is_readable_too(api_client):
    """A page must be able to read a 401 to know it has to sign in again."""
    response = api_client.get("/api/tasks/", HTTP_ORIGIN=APP)

    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == APP


def test_a_response_to_another_origin_has_no_cors_headers(client, project):
    response = client.get("/api/projects/", HTTP_ORIGIN=OTHER)

    assert response.status_code == 200
    assert [name for name in CORS_HEADERS if name in response] == []


def test_an_origin_must_match_scheme_host_and_port(api_client):
    for origin in ("http://app.example.com", "https://app.example.com:8443", "http://localhost:3001"):
        assert "Access-Control-Allow-Origin" not in preflight(api_client, "/api/tasks/", origin), origin


def test_only_the_api_answers_cors(api_client):
    assert "Access-Control-Allow-Origin" not in api_client.get("/healthz", HTTP_ORIGIN=APP)


def test_no_origin_is_allowed_by_default():
    """Without CORS_ALLOWED_ORIGINS in the environment, the setting is empty."""
    env = {key: value for key, value in os.environ.items() if key != "CORS_ALLOWED_ORIGINS"}
    script = "from django.conf import settings; print(repr(settings.CORS_ALLOWED_ORIGINS))"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


# --- WebSocket ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_socket_from_an_allowed_origin_is_accepted_and_signs_in(sockets, user):
    ws = await sockets(headers=[(b"origin", APP.encode())])

    await ws.send_json_to({"type": "auth", "token": access_token(user)})

    assert await ws.receive_json_from(FRAME_TIMEOUT) == auth_ok(user)


# (Any port of localhost is an allowed host in development, so its sockets are let in whatever CORS says.)
@pytest.mark.parametrize("origin", [OTHER, "http://app.example.com", "https://app.example.com:8443"])
async def test_a_socket_from_another_origin_is_refused(channel_layer_of_this_test, origin):
    ws = WebsocketCommunicator(application, "/ws/", headers=[(b"origin", origin.encode())])

    connected, _ = await ws.connect()

    assert not connected
    await ws.disconnect()


async def test_allowed_hosts_still_open_sockets(sockets):
    """The CORS origins come in addition to ALLOWED_HOSTS, not instead of them."""
    await sockets(headers=[(b"origin", b"http://localhost:8000")])


# --- Real servers, the setting from the environment ---------------------------------------------


@pytest.fixture(scope="module")
def database_url(tmp_path_factory) -> str:
    """A migrated SQLite file that the module's servers share."""
    return migrated_sqlite_url(tmp_path_factory.mktemp("cors"))


@pytest.fixture(scope="module", params=["daphne", "uvicorn"])
def server(request, database_url):
    server = TaskFlowServer(
        server=request.param,
        database_url=database_url,
        redis_url="",
        channel_prefix="",
        CORS_ALLOWED_ORIGINS=f"{APP},{LOCAL_APP}",
    )
    server.start()
    yield server
    server.stop()


def served_preflight(server, origin: str):
    request = urllib.request.Request(
        f"{server.http}/api/tasks/",
        method="OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers


def test_a_server_answers_preflights_of_each_origin_in_its_environment(server):
    for origin in (APP, LOCAL_APP):
        status, headers = served_preflight(server, origin)
        assert (status, headers["Access-Control-Allow-Origin"]) == (200, origin)
        assert names(headers["Access-Control-Allow-Headers"]) == ALLOWED_HEADERS

    status, headers = served_preflight(server, OTHER)
    assert (status, headers["Access-Control-Allow-Origin"]) == (200, None)


async def test_a_server_opens_sockets_for_its_cors_origins_only(server):
    async with websockets.connect(server.ws, origin=APP) as ws:  # not an allowed host: allowed as a CORS origin
        await ws.send('{"type": "ping"}')  # unauthenticated: the server closes it, having accepted it
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT)
        assert ws.close_code == 4401

    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(server.ws, origin=OTHER)
    assert refused.value.response.status_code == 403
