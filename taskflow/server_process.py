"""One server process: tune the interpreter, start the worker inside it if asked, serve with Daphne or uvicorn.

    python -m taskflow.server_process --server daphne|uvicorn --fd N [--worker] [--only http|ws]

`taskflow.serve` starts one per `--procs`, each on a listening socket of its own (`--fd`). The
process tuning lives here, in the entry point of a server process, not as a side effect of
importing `taskflow.asgi`, which tests and tools import too. `--worker` runs the background worker
in a thread of this process (operations.embedded): the embedded default needs it there. `--only`
serves one protocol (taskflow.asgi.http_application or websocket_application), as the production
topology's HTTP and WebSocket processes do.

Both servers are told the same limits (settings): WebSocket frames over 64 KiB closed with 1009,
request heads that must arrive in time, kept-alive connections that may idle only so long, quiet
WebSockets pinged and closed when they do not answer, and on SIGTERM a graceful stop: no new
connections, every WebSocket closed with 1012 (clients reconnect elsewhere and resume by seq),
requests in flight finished, for at most TASKFLOW_SHUTDOWN_SECONDS. What the servers' own
options do not cover is added in taskflow.http.server_daphne and taskflow.http.server_uvicorn.
"""

import argparse
import gc
import os
import signal
import socket
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskflow.settings")

# What a server process serves: both protocols, or (--only) one of them.
APPLICATIONS = {
    "all": "taskflow.asgi:application",
    "http": "taskflow.asgi:http_application",
    "ws": "taskflow.asgi:websocket_application",
}
APPLICATION = APPLICATIONS["all"]


def daphne_arguments(fd: int, application: str = APPLICATION) -> list[str]:
    """Daphne's command line: serve TaskFlow on the inherited socket `fd`, quietly, with its limits.

    Daphne's `--http-timeout` is not an idle timeout: it answers 503 to a request the application
    takes longer to answer, while the application goes on working on it, so it frees nothing.
    The idle timeout of HTTP connections is set in taskflow.http.server_daphne instead.
    """
    from django.conf import settings

    return [
        "--fd",
        str(fd),
        "-v",
        "0",
        # Larger messages are refused with 1009 by the protocol layer as soon as a frame header
        # announces them, never buffered (taskflow.http.server_daphne).
        "--websocket-max-message-size",
        str(settings.TASKFLOW_WS_MAX_FRAME_BYTES),
        "--websocket-max-frame-size",
        str(settings.TASKFLOW_WS_MAX_FRAME_BYTES),
        # Daphne pings a socket that sent nothing for this long; autobahn drops it when no pong
        # comes within the timeout.
        "--ping-interval",
        str(settings.TASKFLOW_WS_PING_SECONDS),
        "--ping-timeout",
        str(settings.TASKFLOW_WS_PING_TIMEOUT_SECONDS),
        application,
    ]


def uvicorn_options(application: str = APPLICATION) -> dict:
    """uvicorn's configuration (`uvicorn.Config`): serve TaskFlow quietly, with its limits."""
    from django.conf import settings

    return {
        "app": application,
        "loop": "uvloop",
        # httptools, with a deadline for request heads (taskflow.http.server_uvicorn).
        "http": "taskflow.http.server_uvicorn:TaskFlowHttpToolsProtocol",
        "ws": "websockets-sansio",
        "ws_max_size": settings.TASKFLOW_WS_MAX_FRAME_BYTES,
        # uvicorn pings every socket this often and closes it (1011) when no pong comes in time.
        "ws_ping_interval": settings.TASKFLOW_WS_PING_SECONDS,
        "ws_ping_timeout": settings.TASKFLOW_WS_PING_TIMEOUT_SECONDS,
        "timeout_keep_alive": settings.TASKFLOW_HTTP_KEEPALIVE_SECONDS,
        # On SIGTERM uvicorn closes its WebSockets with 1012 and waits for requests in flight; by
        # default for ever.
        "timeout_graceful_shutdown": settings.TASKFLOW_SHUTDOWN_SECONDS,
        "access_log": False,
        "log_level": "warning",
    }


def _daphne_serve(fd: int, application: str) -> None:
    from taskflow.http.server_daphne import daphne_run

    daphne_run(daphne_arguments(fd, application))


def _uvicorn_serve(fd: int, application: str) -> None:
    import uvicorn

    # The listening socket is handed over as a socket object (`sockets=`), not as `--fd`: uvicorn
    # duplicates a descriptor it is given and closes only its copy when it stops, so the kernel
    # went on accepting connections on the original until the process exited.
    listener = socket.socket(fileno=fd)
    server = uvicorn.Server(uvicorn.Config(**uvicorn_options(application)))
    # Once stopped, uvicorn raises the signal it stopped for again, for the handler that was there
    # before it: this one ends the process cleanly, after the worker inside it (serve()) stopped.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit)
    server.run(sockets=[listener])


def _exit(signum, frame) -> None:
    sys.exit(0)


# How each server serves an application of TaskFlow on an inherited listening socket, until it is stopped.
SERVERS = {"daphne": _daphne_serve, "uvicorn": _uvicorn_serve}


def process_tune() -> None:
    """Tune the garbage collector and the GIL for a server process, once its application is loaded.

    The objects made at start-up live as long as the process, so they are moved out of the
    collector's way, and the older generations are collected less often: with a thousand sockets
    per process full collections were the longest pauses in event delivery. The youngest
    generation keeps Python's size: collecting 100,000 young objects at once stopped the process
    for 40-90 ms every thousand requests or so (bench/README.md). Request threads get the GIL back
    soon after their database round trips, even while the loop is busy writing frames
    (TASKFLOW_GIL_SWITCH_INTERVAL).
    """
    from django.conf import settings

    gc.freeze()
    gc.set_threshold(2_000, 50, 100)
    sys.setswitchinterval(settings.TASKFLOW_GIL_SWITCH_INTERVAL)


def serve(server: str, fd: int, *, worker: bool = False, only: str = "all") -> None:
    """Serve with `server` on the inherited listening socket `fd` until it is stopped (SIGTERM);
    with `worker`, the background worker runs in a thread beside it and stops after it; `only`
    picks what is served (APPLICATIONS)."""
    if server == "daphne":
        # Daphne installs Twisted's asyncio reactor when its server module is imported: first.
        import daphne.server  # noqa: F401
    import taskflow.asgi  # noqa: F401  (the application, loaded before the tuning; the server finds it imported)

    process_tune()
    embedded = None
    if worker:
        from operations.embedded import EmbeddedWorker

        embedded = EmbeddedWorker()
        embedded.start()
    try:
        SERVERS[server](fd, APPLICATIONS[only])
    finally:
        if embedded is not None:
            embedded.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=sorted(SERVERS), required=True)
    parser.add_argument("--fd", type=int, required=True, help="the listening socket, inherited")
    parser.add_argument("--worker", action="store_true", help="run the background worker inside this process")
    parser.add_argument("--only", choices=["http", "ws"], default="all", help="serve one protocol alone")
    args = parser.parse_args()
    serve(args.server, args.fd, worker=args.worker, only=args.only)


if __name__ == "__main__":
    main()
