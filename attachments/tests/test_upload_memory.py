"""An upload is never held whole in a server process's memory, under either server.

A 24 MiB file is uploaded to a real server (Daphne, then uvicorn, on the embedded default) and the
serving process's peak resident memory (`VmHWM` in /proc/<pid>/status) is read before and after:
it may grow by less than half the file. Under Daphne this needs taskflow.http.server_daphne's
SpooledBodyQueue (Daphne queued every chunk of a body at once: +28 MiB for this file, measured);
under uvicorn the ASGI handler's bounded, spooled read of the body (+5 MiB measured).
"""

import hashlib
import json
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest

from realtime.tests.servers import ROOT, TaskFlowServer, api

FILE_BYTES = 24 * 1024 * 1024


def serving_process(server: TaskFlowServer) -> int:
    """The pid of the process that serves: the one child of `taskflow.serve` (one process)."""
    children = []
    for thread in Path(f"/proc/{server.process.pid}/task").iterdir():
        children += [int(pid) for pid in (thread / "children").read_text().split()]
    assert len(children) == 1, children
    return children[0]


def peak_memory_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


@pytest.fixture(params=["daphne", "uvicorn"])
def server(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": ""}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    server = TaskFlowServer(
        server=request.param, database_url=url, redis_url="", channel_prefix="", MEDIA_ROOT=str(tmp_path / "media")
    )
    server.start()
    yield server
    server.stop()


def test_a_large_upload_is_not_held_in_the_servers_memory(server):
    name = f"big-{uuid.uuid4().hex[:8]}"
    account = {"username": name, "email": f"{name}@example.com", "password": "a-long-passphrase-1"}
    assert api(server, "POST", "/api/auth/register/", account)[0] == 201
    token = api(server, "POST", "/api/auth/token/", {"username": name, "password": account["password"]})[1]["access"]
    project = api(server, "POST", "/api/projects/", {"name": "Big files"}, token)[1]
    task = api(server, "POST", "/api/tasks/", {"project": project["id"], "title": "Video"}, token)[1]
    content = os.urandom(FILE_BYTES)
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="video.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    pid = serving_process(server)
    before = peak_memory_bytes(pid)

    request = urllib.request.Request(
        f"{server.http}/api/tasks/{task['id']}/attachments/",
        method="POST",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        status, attachment = response.status, json.loads(response.read())
    grown = peak_memory_bytes(pid) - before

    assert status == 201
    assert (attachment["size"], attachment["sha256"]) == (FILE_BYTES, hashlib.sha256(content).hexdigest())
    assert grown < FILE_BYTES // 2, f"the serving process's peak memory grew by {grown / 2**20:.1f} MiB"
