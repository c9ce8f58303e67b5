"""Serve TaskFlow from several server processes listening on one port.

    python -m taskflow.serve [--server daphne|uvicorn] [--procs 2] [--host 127.0.0.1] [--port 8000] [--cpus 0]
                             [--workers 1] [--only http|ws]

Each process (taskflow.server_process) inherits a listening socket bound here (--fd), all on the
same port with SO_REUSEPORT, so the kernel spreads connections evenly over them with no load
balancer in between. With --workers, background workers (`manage.py worker`) run beside the
servers; on the embedded default (no REDIS_URL: an in-memory channel layer, which only its own
process reaches) the worker runs inside the first server process instead, so that its reminders
reach the sockets. With --only the processes serve one protocol: `http` (WebSocket handshakes are
refused) or `ws` (WebSockets and the health checks; any other HTTP request is a JSON 404), the
production topology's two kinds of process behind nginx (`bench/serve`, docker-compose.yml).
Stops all of them on SIGINT/SIGTERM.
Settings come from the environment as usual (DATABASE_URL, REDIS_URL, ...).
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from taskflow.server_process import SERVERS

ROOT = Path(__file__).resolve().parents[1]


def _listener(host: str, port: int) -> socket.socket:
    """A listening socket of one server process, on the port all of them share.

    Each process gets its own (SO_REUSEPORT): the kernel spreads new connections evenly over
    them. With one socket shared by all, whichever process woke first accepted a burst of
    connections, and a benchmark's 32 connections could land 30 to 2 (throughput halved).
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    # Connections accepted on this socket inherit TCP_NODELAY. uvicorn takes an inherited --fd for
    # a Unix socket and leaves Nagle's algorithm on, so a response body (written after its head)
    # waited for the client's delayed acknowledgement: ~40 ms per request, half the throughput.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind((host, port))
    listener.listen(4096)
    listener.set_inheritable(True)
    return listener


def _channel_layer_is_shared() -> bool:
    """Whether the channel layer reaches other processes (Redis), so a worker may run in its own."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskflow.settings")
    from django.conf import settings

    return bool(settings.REDIS_URL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=sorted(SERVERS), default="daphne")
    parser.add_argument("--procs", type=int, default=1)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--cpus", default="", help="pin the servers to these CPUs (taskset list), e.g. 0")
    parser.add_argument("--workers", type=int, default=0, help="background workers to run beside the servers")
    parser.add_argument("--only", choices=["http", "ws"], help="serve one protocol alone (HTTP, or WebSockets)")
    args = parser.parse_args()

    worker_inside = args.workers > 0 and not _channel_layer_is_shared()
    processes = []
    for index in range(args.procs):
        listener = _listener(args.host, args.port)
        command = [sys.executable, "-m", "taskflow.server_process", "--server", args.server]
        command += ["--fd", str(listener.fileno())] + (["--worker"] if worker_inside and index == 0 else [])
        command += ["--only", args.only] if args.only else []
        if args.cpus:
            command = ["taskset", "-c", args.cpus, *command]
        processes.append(subprocess.Popen(command, cwd=ROOT, pass_fds=(listener.fileno(),), env=os.environ.copy()))
        listener.close()
    if not worker_inside:
        worker = [sys.executable, "manage.py", "worker", "--no-reload"]
        processes += [subprocess.Popen(worker, cwd=ROOT, env=os.environ.copy()) for _ in range(args.workers)]

    def stop(*_):
        for process in processes:
            if process.poll() is None:
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.wait()


if __name__ == "__main__":
    main()
