"""What the server processes TaskFlow starts do with slow, silent and stopping connections, under
Daphne and uvicorn: timeouts that free what a client holds, and a graceful stop on SIGTERM.

Each test starts `python -m taskflow.serve` on the embedded default (realtime.tests.live) with the
setting under test made small through the environment, and signals only that process.
"""

import asyncio
import json
import signal
import socket
import time

import pytest
import websockets

from realtime.tests.live import OPCODE_CLOSE, OPCODE_PING, ConnectionDropped, WireWebSocket, access_token, auth_frame
from realtime.tests.live import embedded_server as live_server
from realtime.tests.servers import wait_until

SERVERS = ["daphne", "uvicorn"]
SHUTDOWN_SECONDS = 2
# Daphne looks at its connections' timers every 2 s; this is what a timeout may take beyond its own.
TIMER_SLACK = 2.5


@pytest.fixture(params=SERVERS)
def kind(request) -> str:
    return request.param


@pytest.fixture
def start(kind, tmp_path):
    """`start(**settings)`: a started server of this test's kind with these settings."""
    started = []

    def start_server(**settings: str):
        server = live_server(kind, tmp_path, **settings)
        started.append(server)
        server.start()
        return server

    yield start_server
    for server in started:
        server.stop()


def closed_by_server(connection: socket.socket, timeout: float) -> bool:
    """Whether the server closes `connection` within `timeout` seconds, sending nothing first."""
    connection.settimeout(timeout)
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


# --- Slow and silent connections ------------------------------------------------------------------


def test_partial_request_head_is_closed_within_the_header_timeout(start):
    server = start(TASKFLOW_HTTP_HEADER_SECONDS="1")
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()

        assert closed_by_server(connection, timeout=1 + TIMER_SLACK)
        assert time.monotonic() - started > 0.5  # it waited for the head, as configured


def test_kept_alive_connection_is_closed_after_the_keepalive_timeout(start):
    server = start(TASKFLOW_HTTP_KEEPALIVE_SECONDS="1")
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert response_status(connection) == 200

        assert closed_by_server(connection, timeout=1 + TIMER_SLACK)


def test_websocket_that_answers_no_ping_is_closed(start):
    server = start(TASKFLOW_WS_PING_SECONDS="1", TASKFLOW_WS_PING_TIMEOUT_SECONDS="1")
    ws = WireWebSocket(server.port).open()
    frames = []
    try:
        # A client that vanished: it reads (to see the pings) but never answers.
        with pytest.raises(ConnectionDropped):
            while True:
                frames.append(ws.read_frame(timeout=1 + 1 + TIMER_SLACK))
    finally:
        ws.close()

    assert frames and frames[0][0] == OPCODE_PING
    # uvicorn says why in a close frame (1011); Daphne drops the connection.
    assert all(opcode in (OPCODE_PING, OPCODE_CLOSE) for opcode, _ in frames)


# --- Stopping -------------------------------------------------------------------------------------


def request_in_flight(server, body: bytes) -> socket.socket:
    """A POST whose head the server has taken and whose body it is waiting for (it answered
    `100 Continue`), on a connection of its own."""
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    connection.sendall(
        b"POST /api/auth/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(body)
    )
    interim = b""
    while b"\r\n\r\n" not in interim:
        interim += connection.recv(1)
    assert interim.startswith(b"HTTP/1.1 100"), interim
    return connection


def response_status(connection: socket.socket) -> int:
    """The status of the response that comes next on `connection`, read to its end."""
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = connection.recv(65536)
        assert chunk, f"the connection closed before the response: {response!r}"
        response += chunk
    head, body = response.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    headers = dict(line.split(b":", 1) for line in lines[1:])
    length = int({name.strip().lower(): value for name, value in headers.items()}.get(b"content-length", b"0"))
    while len(body) < length:
        chunk = connection.recv(65536)
        assert chunk, "the connection closed inside the response body"
        body += chunk
    return int(lines[0].split(b" ", 2)[1])


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False  # accepted by the kernel but not answered: not refused
    return False


async def test_sigterm_closes_open_websockets_with_1012(start):
    server = start()
    signed_in = await websockets.connect(server.ws)
    await signed_in.send(auth_frame(access_token()))
    assert json.loads(await signed_in.recv())["type"] == "auth.ok"
    not_yet_signed_in = await websockets.connect(server.ws)

    server.process.send_signal(signal.SIGTERM)

    for ws in (signed_in, not_yet_signed_in):
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
    assert await asyncio.to_thread(server.process.wait, 10) == 0


def test_sigterm_lets_a_request_in_flight_finish_with_its_status(start):
    server = start()
    body = json.dumps({"username": "nobody"}).encode()
    connection = request_in_flight(server, body)

    server.process.send_signal(signal.SIGTERM)
    connection.sendall(body)

    assert response_status(connection) == 400  # the body was read: its password is missing
    connection.close()
    assert server.process.wait(timeout=10) == 0


def test_stopping_server_refuses_new_connections_while_it_finishes(start):
    server = start()
    body = json.dumps({"username": "nobody"}).encode()
    connection = request_in_flight(server, body)

    server.process.send_signal(signal.SIGTERM)
    wait_until(lambda: refuses_connections(server.port), timeout=5, what="new connections refused")

    assert server.process.poll() is None  # still finishing the request
    connection.sendall(body)
    assert response_status(connection) == 400
    connection.close()


def test_stop_waits_for_a_stuck_request_no_longer_than_the_shutdown_timeout(start):
    server = start(TASKFLOW_SHUTDOWN_SECONDS=str(SHUTDOWN_SECONDS))
    connection = request_in_flight(server, b"{}")  # its body never comes
    stopped_at = time.monotonic()

    server.process.send_signal(signal.SIGTERM)

    server.process.wait(timeout=SHUTDOWN_SECONDS + 5)
    assert time.monotonic() - stopped_at < SHUTDOWN_SECONDS + 3
    connection.close()
