"""One server process: tune the interpreter, start the worker inside it if asked, serve with Daphne or uvicorn.

    python -m taskflow.server_process --server daphne|uvicorn --fd N [--worker]

`taskflow.serve` starts one per `--procs`, each on a listening socket of its own (`--fd`). The
process tuning lives here, in the entry point of a server process, not as a side effect of
importing `taskflow.asgi`, which tests and tools import too. `--worker` runs the background worker
in a thread of this process (operations.embedded): the embedded default needs it there.
"""

import argparse
import gc
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskflow.settings")

APPLICATION = "taskflow.asgi:application"

# How each server is told to serve TaskFlow on an inherited socket, quietly.
SERVERS = {
    "daphne": lambda fd: ["--fd", str(fd), "-v", "0", APPLICATION],
    "uvicorn": lambda fd: [
        APPLICATION,
        "--fd",
        str(fd),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--ws",
        "websockets-sansio",
        "--ws-max-size",
        str(64 * 1024),
        "--no-access-log",
        "--log-level",
        "warning",
    ],
}


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


def serve(server: str, argv: list[str], *, worker: bool = False) -> None:
    """Run `server` with its command-line arguments in this process, until it stops (SIGTERM);
    with `worker`, the background worker runs in a thread beside it and stops after it."""
    if server == "daphne":
        # Daphne installs Twisted's asyncio reactor when its server module is imported: first.
        from daphne.cli import CommandLineInterface

        run = CommandLineInterface().run
    else:
        import uvicorn

        def run(argv: list[str]) -> None:
            uvicorn.main.main(args=argv, standalone_mode=False)

    import taskflow.asgi  # noqa: F401  (the application, loaded before the tuning; the server finds it imported)

    process_tune()
    embedded = None
    if worker:
        from operations.embedded import EmbeddedWorker

        embedded = EmbeddedWorker()
        embedded.start()
    try:
        run(argv)
    finally:
        if embedded is not None:
            embedded.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=sorted(SERVERS), required=True)
    parser.add_argument("--fd", type=int, required=True, help="the listening socket, inherited")
    parser.add_argument("--worker", action="store_true", help="run the background worker inside this process")
    args = parser.parse_args()
    serve(args.server, SERVERS[args.server](args.fd), worker=args.worker)


if __name__ == "__main__":
    main()
