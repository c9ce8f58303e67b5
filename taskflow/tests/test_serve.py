"""`python -m taskflow.serve`: how the servers it starts answer on their connections."""

import http.client
import statistics
import time

import pytest

from realtime.tests.servers import TaskFlowServer


@pytest.fixture(params=["daphne", "uvicorn"])
def server(request, tmp_path):
    server = TaskFlowServer(
        server=request.param,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        redis_url="",
        channel_prefix="serve",
    )
    server.start()
    yield server
    server.stop()


def test_answers_on_a_kept_alive_connection_are_not_held_back(server):
    # A response goes out in more than one write (head, then body). Unless the server's sockets
    # send small writes at once (TCP_NODELAY), the body waits for the client's delayed
    # acknowledgement of the head: ~40 ms per request on Linux, whatever the server's speed.
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    durations = []
    try:
        for _ in range(30):
            started = time.perf_counter()
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            body = response.read()
            durations.append(time.perf_counter() - started)
            assert response.status == 200, body
    finally:
        connection.close()
    assert statistics.median(durations) < 0.02, [round(d * 1000, 1) for d in durations]


def test_server_processes_hand_the_gil_over_at_the_configured_interval():
    import sys

    from django.conf import settings

    import taskflow.asgi  # noqa: F401  (what a server process imports)

    assert settings.TASKFLOW_GIL_SWITCH_INTERVAL < 0.005
    assert sys.getswitchinterval() == pytest.approx(settings.TASKFLOW_GIL_SWITCH_INTERVAL)
