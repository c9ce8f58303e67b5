"""The background worker inside a server process: the embedded default's worker (`make run`).

With the in-memory channel layer (no REDIS_URL) only the server process reaches its WebSockets:
a worker in a process of its own ran reminders and sent their emails, but its notifications went
to a channel layer nobody listened to. So `taskflow.serve --workers` runs the worker in a thread
of the server process instead, where its notifications reach the sockets like any event does.

The thread runs django-tasks-db's own worker loop (operations.workers: what `manage.py worker`
runs) without its signal handling, which only the main thread may install: the server owns the
signals, and `stop()` ends the loop between jobs (the loop checks `running`).
"""

import logging
import threading
import time

from django_tasks_db.management.commands.db_worker import Worker

from operations.periodic import periodic_schedule_all
from operations.workers import worker_new

logger = logging.getLogger(__name__)

# After the worker's loop fails (the database went away, say), it starts again after this long.
RESTART_SECONDS = 5.0


class EmbeddedWorker:
    """`manage.py worker` in a daemon thread of this process: start() it, stop() it."""

    def __init__(self, *, interval: float = 1.0, worker_id: str | None = None) -> None:
        self.interval = interval
        self.worker_id = worker_id or f"embedded-{threading.get_native_id()}-{time.monotonic_ns()}"
        self.worker: Worker | None = None
        self.thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="embedded-worker", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Let the job in progress finish, then end the loop (waits at most `timeout` seconds)."""
        self._stopping.set()
        if self.worker is not None:
            self.worker.running = False
        if self.thread is not None:
            self.thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                for path in periodic_schedule_all():
                    logger.info("Scheduled the periodic job %s.", path)
                self.worker = worker_new(worker_id=self.worker_id, interval=self.interval)
                if self._stopping.is_set():
                    return
                self.worker.run()
                return
            except Exception:
                logger.exception("The embedded worker failed; starting it again in %ss.", RESTART_SECONDS)
                self._stopping.wait(RESTART_SECONDS)
