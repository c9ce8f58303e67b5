"""`python -m taskflow.serve`: how the servers it starts answer on their connections."""

import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest

from realtime.tests.servers import ROOT, TaskFlowServer, free_port, wait_until


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


def _interpreter_state_after(code: str) -> dict:
    """The GC and GIL settings of a fresh interpreter after running `code` (a subprocess: tuning
    is process-wide, and this test process must stay as it is)."""
    report = (
        "import gc, json, sys; print(json.dumps([sys.getswitchinterval(), gc.get_threshold(), gc.get_freeze_count()]))"
    )
    env = {**os.environ, "DATABASE_URL": "", "REDIS_URL": ""}
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{report}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    interval, threshold, frozen = json.loads(result.stdout.splitlines()[-1])
    return {"switch_interval": interval, "gc_threshold": tuple(threshold), "frozen_objects": frozen}


def test_importing_the_asgi_application_tunes_nothing():
    untouched = _interpreter_state_after("pass")
    assert _interpreter_state_after("import taskflow.asgi") == {**untouched, "frozen_objects": 0}


def test_server_processes_hand_the_gil_over_at_the_configured_interval():
    from django.conf import settings

    state = _interpreter_state_after(
        "import taskflow.asgi\nfrom taskflow.server_process import process_tune\nprocess_tune()"
    )
    assert settings.TASKFLOW_GIL_SWITCH_INTERVAL < 0.005
    assert state["switch_interval"] == pytest.approx(settings.TASKFLOW_GIL_SWITCH_INTERVAL)
    assert state["gc_threshold"] == (2_000, 50, 100)
    # The application's start-up objects are moved out of the collector's way.
    assert state["frozen_objects"] > 10_000


def _established_connections(pid: int, port: int) -> int:
    """TCP connections of process `pid` accepted on local `port` (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01" and fields[9] in inodes:  # 01: ESTABLISHED
                count += 1
    return count


def test_connections_are_spread_over_the_server_processes(tmp_path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "REDIS_URL": ""}
    serve = subprocess.Popen(
        [sys.executable, "-m", "taskflow.serve", "--server", "uvicorn", "--procs", "2", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    connections = []
    try:
        wait_until(lambda: len(_children(serve.pid)) == 2, timeout=30, what="two server processes")
        for _ in range(32):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            wait_until(lambda c=connection: _answers(c), timeout=30, what=f"the servers on port {port}")
            connections.append(connection)
        counts = [_established_connections(pid, port) for pid in _children(serve.pid)]
        # 32 connections over two processes: an even spread gives each 16 (fewer than 6 by chance:
        # about 1 in 2,000,000); one accept queue shared by both gave one of them nearly all.
        assert sum(counts) == 32 and min(counts) >= 6, counts
    finally:
        for connection in connections:
            connection.close()
        serve.terminate()
        serve.wait(timeout=10)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _answers(connection: http.client.HTTPConnection) -> bool:
    try:
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        response.read()
        return response.status == 200
    except OSError:
        connection.close()
        return False
