"""The close codes of /ws/ as clients of real servers see them, the same under Daphne and uvicorn.

test_consumer.py checks when the consumer closes and with which code; these check that the code
reaches the client through each server (Daphne's WebSocket layer refused 1009, 1012 and 1013 and
sent 1011 a second later), and the limits the servers enforce themselves before the consumer sees
a frame. The servers run on the embedded default, so these run in both passes.
"""

import asyncio
import json
from contextlib import suppress

import pytest
import websockets

from realtime.tests.live import (
    OPCODE_CONTINUATION,
    WireWebSocket,
    access_token,
    auth_frame,
    embedded_server,
)

MAX_FRAME_BYTES = 64 * 1024
FRAME_RATE = 10
# How long a close that must come may take; the consumer closes at once in each case.
CLOSE_TIMEOUT = 3.0


@pytest.fixture(scope="module", params=["daphne", "uvicorn"])
def server(request, tmp_path_factory):
    """One server per kind for this module: each test signs in as a user of its own."""
    server = embedded_server(
        request.param,
        tmp_path_factory.mktemp("close-codes"),
        TASKFLOW_WS_AUTH_TIMEOUT="1",
        TASKFLOW_WS_FRAME_RATE=str(FRAME_RATE),
        TASKFLOW_WS_MAX_SOCKETS_PER_USER="1",
    )
    server.start()
    yield server
    server.stop()


async def signed_in(server, token: str | None = None):
    ws = await websockets.connect(server.ws, max_size=2**20)
    await ws.send(auth_frame(token or access_token()))
    assert json.loads(await ws.recv())["type"] == "auth.ok"
    return ws


async def close_code(ws) -> int | None:
    """The code of the close frame the server sent (None: the connection dropped without one)."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await ws.recv()
    return closed.value.rcvd.code if closed.value.rcvd is not None else None


async def receive_close(ws, timeout: float = CLOSE_TIMEOUT) -> int | None:
    return await asyncio.wait_for(close_code(ws), timeout)


async def test_frame_over_64_kib_closes_1009(server):
    ws = await signed_in(server)

    await ws.send(json.dumps({"type": "ping", "padding": "x" * MAX_FRAME_BYTES}))

    assert await receive_close(ws) == 1009


async def test_frame_of_exactly_64_kib_is_served(server):
    ws = await signed_in(server)
    empty = json.dumps({"type": "ping", "padding": ""})
    frame = empty.replace('""', '"' + "x" * (MAX_FRAME_BYTES - len(empty)) + '"')

    await ws.send(frame)

    assert len(frame.encode()) == MAX_FRAME_BYTES
    assert json.loads(await ws.recv()) == {"type": "pong"}
    await ws.close()


async def test_frame_of_10_mib_closes_1009(server):
    ws = await signed_in(server)

    # Refused while it is being sent, maybe: the close frame has been received then.
    with suppress(websockets.ConnectionClosed):
        await ws.send("x" * (10 * 1024 * 1024))

    assert await receive_close(ws) == 1009


def test_frame_announced_as_10_mib_closes_1009_before_the_rest_is_sent(server):
    # The server must judge a frame by its header: reading 10 MiB (or waiting for it) to refuse
    # it would let any client make it hold that much per connection.
    ws = WireWebSocket(server.port).open()
    try:
        ws.send_frame(b"x" * 1024, length=10 * 1024 * 1024)

        assert ws.close_code(timeout=CLOSE_TIMEOUT) == 1009
    finally:
        ws.close()


def test_message_over_64_kib_in_fragments_closes_1009(server):
    ws = WireWebSocket(server.port).open()
    fragment = b"x" * (40 * 1024)
    try:
        ws.send_frame(fragment, fin=False)
        with suppress(OSError):  # refused on the first bytes of the second fragment, maybe
            ws.send_frame(fragment, opcode=OPCODE_CONTINUATION)

        assert ws.close_code(timeout=CLOSE_TIMEOUT) == 1009
    finally:
        ws.close()


async def test_bad_token_closes_4401(server):
    ws = await websockets.connect(server.ws)

    await ws.send(auth_frame("not-a-jwt"))

    assert await receive_close(ws) == 4401


async def test_frame_other_than_auth_first_closes_4401(server):
    ws = await websockets.connect(server.ws)

    await ws.send(json.dumps({"type": "ping"}))

    assert await receive_close(ws) == 4401


async def test_no_auth_in_time_closes_4408(server):
    ws = await websockets.connect(server.ws)

    # TASKFLOW_WS_AUTH_TIMEOUT is 1 s here.
    assert await receive_close(ws, timeout=1 + CLOSE_TIMEOUT) == 4408


async def test_flood_of_frames_closes_4429(server):
    ws = await signed_in(server)

    for _ in range(6 * FRAME_RATE):
        await ws.send(json.dumps({"type": "ping"}))

    assert await receive_close(ws) == 4429


async def test_socket_beyond_the_per_user_limit_closes_4429(server):
    token = access_token()
    first = await signed_in(server, token)
    second = await websockets.connect(server.ws)

    await second.send(auth_frame(token))

    assert await receive_close(second) == 4429
    await first.close()


async def test_socket_whose_outbox_overflows_closes_1013(tmp_path, server):
    # A limit of 0: the first job queued for a socket (its subscription) overflows its outbox.
    # test_consumer.py shows a socket that stopped reading getting there; this shows the code
    # reaching the client through the server.
    slow = embedded_server(server.server, tmp_path, TASKFLOW_WS_OUTBOX_LIMIT="0")
    slow.start()
    try:
        ws = await signed_in(slow)

        await ws.send(json.dumps({"type": "subscribe", "project": 1}))

        assert await receive_close(ws) == 1013
    finally:
        slow.stop()
