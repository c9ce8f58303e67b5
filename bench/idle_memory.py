"""Memory of idle WebSocket connections: open N, each authenticated and subscribed, then measure.

    python bench/idle_memory.py --base http://127.0.0.1:8010 --user bench1 --pass bench-pass \
        --project 1 --connections 5000 --pids 1234,1235

Reads the resident memory (VmRSS) of the server processes `--pids` before connecting and once all
N sockets have answered `subscribed` and sat idle for --settle seconds; prints the growth per
connection. Speaks only the contract (API.md), so it measures any implementation of it.
"""

import argparse
import asyncio
import json
import resource
import sys
import time
import urllib.request

import websockets


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as status:
            total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return total


def login(base: str, username: str, password: str) -> str:
    request = urllib.request.Request(
        f"{base}/api/auth/token/",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)["access"]


async def open_socket(url: str, token: str, project: int, opened: list) -> None:
    socket = await websockets.connect(url, max_size=2**20, compression=None, open_timeout=60, ping_interval=None)
    await socket.send(json.dumps({"type": "auth", "token": token}))
    assert json.loads(await socket.recv())["type"] == "auth.ok"
    await socket.send(json.dumps({"type": "subscribe", "project": project}))
    while json.loads(await socket.recv())["type"] != "subscribed":
        pass
    opened.append(socket)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--pass", dest="password", required=True)
    parser.add_argument("--project", type=int, required=True)
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--pids", required=True, help="server process ids, comma-separated")
    parser.add_argument("--settle", type=float, default=5.0)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    pids = [int(pid) for pid in args.pids.split(",")]
    token = login(args.base, args.user, args.password)
    url = args.base.replace("http", "ws", 1) + "/ws/"
    before = rss_kib(pids)
    opened: list = []
    started = time.monotonic()
    for start in range(0, args.connections, 200):  # in waves, as clients arrive
        batch = range(start, min(start + 200, args.connections))
        await asyncio.gather(*(open_socket(url, token, args.project, opened) for _ in batch))
    await asyncio.sleep(args.settle)
    after = rss_kib(pids)
    per_connection = (after - before) * 1024 / len(opened)
    print(
        f"RESULT connections={len(opened)} rss_before_mib={before / 1024:.1f} rss_after_mib={after / 1024:.1f} "
        f"per_connection_kib={per_connection / 1024:.1f} connect_s={time.monotonic() - started:.1f}"
    )
    await asyncio.gather(*(socket.close() for socket in opened))


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
