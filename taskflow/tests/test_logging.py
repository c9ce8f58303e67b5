"""Logs: JSON lines in production, a request id on every line made for a request, and no secrets.

The tests put TaskFlow's own log configuration (taskflow.settings.logging_config) in force, with
its handler writing into a buffer instead of stderr, and read what it wrote.
"""

import io
import json
import logging
import logging.config
import re
from datetime import UTC, datetime, timedelta

import pytest
from channels.testing import HttpCommunicator, WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.http import HttpResponseNotFound
from django.urls import path
from rest_framework_simplejwt.tokens import AccessToken

from taskflow.asgi import application
from taskflow.http.handlers import ThreadedASGIHandler
from taskflow.redaction import redact_text

logger = logging.getLogger("taskflow.tests.logging")

NEW_REQUEST_ID = re.compile(r"[0-9a-f]{32}")


# --- Fixtures and helpers -------------------------------------------------------------------------


def entries(buffer: io.StringIO) -> list[dict]:
    """The JSON objects written so far, one per line."""
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def _view_that_logs(request):
    logger.info("Handling the request.")
    # Django logs this 404 (`django.request`) after the middleware chain has returned.
    return HttpResponseNotFound()


urlpatterns = [path("logs/", _view_that_logs)]


# --- Format -----------------------------------------------------------------------------------------


def test_production_log_line_is_one_json_object_with_time_level_logger_and_message(production_log):
    logger.warning("Disk %s is %d%% full.", "data", 93)

    [line] = production_log.getvalue().splitlines()
    entry = json.loads(line)
    assert entry == {
        "time": entry["time"],
        "level": "WARNING",
        "logger": "taskflow.tests.logging",
        "message": "Disk data is 93% full.",
    }
    time = datetime.fromisoformat(entry["time"])
    assert time.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - time) < timedelta(minutes=1)


def test_production_log_line_carries_the_exception_on_the_same_line(production_log):
    try:
        raise ValueError("the disk is gone")
    except ValueError:
        logger.exception("Could not write.")

    [entry] = entries(production_log)
    assert entry["level"] == "ERROR"
    assert entry["message"] == "Could not write."
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert entry["exception"].endswith("ValueError: the disk is gone")


def test_production_log_line_carries_extra_fields(production_log):
    logger.info("Pruned events.", extra={"deleted": 12})

    [entry] = entries(production_log)
    assert entry["deleted"] == 12


def test_development_log_line_is_plain_text(use_log_config):
    output = use_log_config(production=False)

    logger.warning("Disk %s is full.", "data")

    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING taskflow\.tests\.logging \[-\] Disk data is full\.\n",
        output.getvalue(),
    )


# --- The request id -------------------------------------------------------------------------------


def test_response_carries_a_new_request_id(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert NEW_REQUEST_ID.fullmatch(response["X-Request-ID"])


def test_each_request_gets_its_own_id(client):
    assert client.get("/healthz")["X-Request-ID"] != client.get("/healthz")["X-Request-ID"]


def test_sane_incoming_request_id_is_echoed(client):
    request_id = "edge-7f3a.42_" + "x" * 115  # 128 characters

    response = client.get("/healthz", headers={"X-Request-ID": request_id})

    assert response["X-Request-ID"] == request_id


@pytest.mark.parametrize(
    "request_id",
    ["", "has space", "x" * 129, "line\nbreak", "quote\"'", "caf\u00e9", "semi;colon"],
    ids=["empty", "space", "too-long", "newline", "quotes", "non-ascii", "semicolon"],
)
def test_insane_incoming_request_id_is_replaced(client, request_id):
    response = client.get("/healthz", headers={"X-Request-ID": request_id})

    assert NEW_REQUEST_ID.fullmatch(response["X-Request-ID"])


@pytest.mark.urls(__name__)
def test_log_lines_made_while_handling_a_request_carry_its_id(client, production_log):
    response = client.get("/logs/", headers={"X-Request-ID": "trace-1"})

    assert response.status_code == 404
    assert [(entry["message"], entry.get("request_id")) for entry in entries(production_log)] == [
        ("Handling the request.", "trace-1"),
        ("Not Found: /logs/", "trace-1"),
    ]


@pytest.mark.urls(__name__)
def test_log_lines_after_a_request_carry_no_request_id(client, production_log):
    client.get("/logs/")

    logger.info("Between requests.")

    assert "request_id" not in entries(production_log)[-1]


@pytest.mark.urls(__name__)
async def test_log_lines_of_a_request_served_over_asgi_carry_its_id(production_log):
    headers = [(b"host", b"testserver"), (b"x-request-id", b"asgi-1")]
    communicator = HttpCommunicator(ThreadedASGIHandler(), "GET", "/logs/", headers=headers)

    response = await communicator.get_response(timeout=10)

    assert response["status"] == 404
    assert (b"X-Request-ID", b"asgi-1") in response["headers"]
    assert {entry.get("request_id") for entry in entries(production_log)} == {"asgi-1"}


@pytest.mark.django_db(transaction=True)
async def test_log_lines_of_a_websocket_connection_carry_its_id(production_log, settings, user):
    # With no room in the outbox the first subscription closes the socket, with a warning.
    settings.TASKFLOW_WS_OUTBOX_LIMIT = 0
    ws = WebsocketCommunicator(application, "/ws/")
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "auth", "token": str(AccessToken.for_user(user))})
    assert (await ws.receive_json_from(5))["type"] == "auth.ok"

    await ws.send_json_to({"type": "subscribe", "project": 1})

    assert await ws.receive_output(5) == {"type": "websocket.close", "code": 1013}
    [warning] = [entry for entry in entries(production_log) if entry["logger"] == "realtime.consumers"]
    assert warning["message"].startswith("Closing a socket of user")
    assert NEW_REQUEST_ID.fullmatch(warning["request_id"])


# --- Secrets ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_token_password_or_authorization_value_reaches_the_log(api_client, production_log):
    password = "Quartz-Lantern-8812"
    weak_password = "Zq9!x"
    api_client.post(
        "/api/auth/register/",
        {"username": "lena", "email": "lena@example.com", "password": weak_password},
        format="json",
    )
    api_client.post(
        "/api/auth/register/", {"username": "lena", "email": "lena@example.com", "password": password}, format="json"
    )
    wrong = api_client.post("/api/auth/token/", {"username": "lena", "password": password + "!"}, format="json")
    tokens = api_client.post("/api/auth/token/", {"username": "lena", "password": password}, format="json").json()
    expired = AccessToken.for_user(get_user_model().objects.get(username="lena"))
    expired.set_exp(lifetime=-timedelta(minutes=1))
    missing = api_client.get("/api/projects/999999/", headers={"Authorization": f"Bearer {tokens['access']}"})
    lapsed = api_client.get("/api/auth/me/", headers={"Authorization": f"Bearer {expired}"})
    try:
        raise RuntimeError(f"refresh {tokens['refresh']} was refused")
    except RuntimeError:
        logger.exception(
            "Could not use %s with %s",
            tokens["access"],
            {"refresh": tokens["refresh"], "password": password},
            extra={"authorization": f"Bearer {tokens['access']}", "headers": {"Authorization": f"Bearer {expired}"}},
        )

    assert (wrong.status_code, missing.status_code, lapsed.status_code) == (401, 404, 401)
    output = production_log.getvalue()
    for secret in (tokens["access"], tokens["refresh"], str(expired), password, weak_password):
        assert secret not in output
        assert secret.split(".")[-1] not in output  # not even a JWT's signature
    assert "Bearer eyJ" not in output
    logged = {entry["message"]: entry for entry in entries(production_log)}
    assert {"Bad Request: /api/auth/register/", "Unauthorized: /api/auth/token/"} <= logged.keys()
    assert {"Not Found: /api/projects/999999/", "Unauthorized: /api/auth/me/"} <= logged.keys()
    failure = logged["Could not use [redacted] with {'refresh': '[redacted]', 'password': '[redacted]'}"]
    assert failure["exception"].endswith("RuntimeError: refresh [redacted] was refused")
    assert failure["authorization"] == "[redacted]"
    assert failure["headers"] == {"Authorization": "[redacted]"}


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("Authorization: Bearer abc.def", "Authorization: [redacted]"),
        ("sent Bearer abc123 along", "sent Bearer [redacted] along"),
        ("GET /api/x?access_token=s3cr3t&page=2", "GET /api/x?access_token=[redacted]&page=2"),
        ("{'HTTP_AUTHORIZATION': 'Basic dXNlcjpwYXNz'}", "{'HTTP_AUTHORIZATION': '[redacted]'}"),
        ('{"new_password": "two words"}', '{"new_password": "[redacted]"}'),
        ("password=hunter2 user=ana", "password=[redacted] user=ana"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln inline", "token [redacted] inline"),
        ("password=[redacted] Bearer [redacted]", "password=[redacted] Bearer [redacted]"),
        ("Project 42: 3 tasks moved by user 7.", "Project 42: 3 tasks moved by user 7."),
    ],
)
def test_redaction_of_text(text, redacted):
    assert redact_text(text) == redacted
