"""WebSocket test fixtures: sockets to /ws/ on a channel layer of the test's own, signed in or not.

conftest.py loads this module as a plugin, so every test can ask for `sockets` and `signed_in`.
"""

import copy
import uuid
from datetime import timedelta

import pytest
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from taskflow.asgi import application

# How long to wait for a frame that must come, and for silence that must hold.
FRAME_TIMEOUT = 3.0
SILENCE = 0.5
MAX_FRAME_BYTES = 64 * 1024


@pytest.fixture
def channel_layer_of_this_test(settings):
    """A fresh channel layer per test; on Redis, under a prefix of its own.

    Parallel workers (and other runs) share one Redis and reuse project ids, so groups like
    `project.3` must not meet across tests.
    """
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    if "redis" in layers["default"]["BACKEND"]:
        layers["default"].setdefault("CONFIG", {})["prefix"] = f"taskflow-test-{uuid.uuid4().hex}"
    settings.CHANNEL_LAYERS = layers


@pytest.fixture
async def sockets(channel_layer_of_this_test):
    """`await sockets(path="/ws/", headers=None)`: a connected WebSocket, disconnected after the test."""
    opened: list[WebsocketCommunicator] = []

    async def open_socket(path: str = "/ws/", headers: list | None = None) -> WebsocketCommunicator:
        ws = WebsocketCommunicator(application, path, headers=headers)
        opened.append(ws)
        connected, _ = await ws.connect()
        assert connected, "the server refused the WebSocket connection"
        return ws

    yield open_socket
    for ws in opened:
        if not ws.future.done():
            await ws.disconnect()


@pytest.fixture
def signed_in(sockets):
    """`await signed_in(user)`: a socket that has sent a valid token and received `auth.ok`."""

    async def sign_in(user) -> WebsocketCommunicator:
        ws = await sockets()
        await ws.send_json_to({"type": "auth", "token": access_token(user)})
        assert await ws.receive_json_from(FRAME_TIMEOUT) == auth_ok(user)
        return ws

    return sign_in


def access_token(user, *, lifetime: timedelta | None = None) -> str:
    token = AccessToken.for_user(user)
    if lifetime is not None:
        token.set_exp(lifetime=lifetime)
    return str(token)


def auth_ok(user) -> dict:
    return {"type": "auth.ok", "user": {"id": user.pk, "username": user.username}}
