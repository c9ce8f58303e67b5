"""Real processes for end-to-end tests: TaskFlow (Daphne or uvicorn, or the production topology of
`bench/serve`), its worker, a private Redis, and a TCP proxy to put between a server
and a service it needs (to cut it off).

Each process listens on a free port, is waited for until it answers (never a fixed sleep), and is
stopped by the test that started it: only the processes started here are ever signalled.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager, suppress
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not happen within {timeout}s")


def shared_database_url(*, port: int | None = None) -> str:
    """The URL of the database this test runs on, for server processes to share it; with `port`,
    through that port on the loopback instead (a TCPProxy in front of the database)."""
    db = connection.settings_dict
    if db["ENGINE"] != "taskflow.db.mysql":
        raise RuntimeError("end-to-end tests share the test database with servers: they need MySQL")
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    address = f"127.0.0.1:{port}" if port is not None else f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}"
    return f"mysql://{credentials}@{address}/{db['NAME']}"


def database_address() -> tuple[str, int]:
    """Host and port of the database this test runs on (MySQL)."""
    db = connection.settings_dict
    return db["HOST"] or "127.0.0.1", int(db["PORT"] or 3306)


class TCPProxy:
    """Forwards connections to a free loopback port on to `target`, in threads of this process.

    stop() is an outage as the proxy's clients see it: new connections are refused and every open
    one is dropped (both sides see it closed). start() again serves on the same port. Only the
    sockets and threads made here are touched. lose_answers(n) makes the next n connections lose
    what the target answers (below).
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._answers_to_lose = 0

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self._spawn(self._accept, listener)

    def stop(self) -> None:
        """Refuse new connections and drop the open ones; returns once every thread has ended."""
        listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout=10)
            if thread.is_alive():
                raise RuntimeError(f"proxy thread {thread.name} did not end")

    def lose_answers(self, count: int) -> None:
        """For the next `count` connections, forward what the client sends but not the target's
        answer: as its first bytes come, both sides are closed. So the target has done the work
        and answered, and the client sees the connection closed without an answer."""
        with self._lock:
            self._answers_to_lose = count

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=f"proxy-{self.port}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
                lose_answer = self._answers_to_lose > 0
                if lose_answer:
                    self._answers_to_lose -= 1
                self._spawn(self._pump, client, upstream)
                self._spawn(self._pump, upstream, client, lose_answer)

    def _pump(self, source: socket.socket, sink: socket.socket, lose: bool = False) -> None:
        """Copy bytes one way until either side closes (with `lose`, until the first bytes come,
        unsent); then close the other way too."""
        try:
            while (data := source.recv(65536)) and not lose:
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class ServerProcess:
    """A server in a process of its own on a free port: start() it, stop() it, restart() it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the process this object started (and only that one): politely, then firmly."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        """Stop, then start again on the same port."""
        self.stop()
        self.start()


class RedisServer(ServerProcess):
    """A redis-server of the test's own, keeping nothing on disk."""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not installed")
        self.process = subprocess.Popen(
            [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, timeout=START_TIMEOUT_SECONDS, what=f"redis-server on port {self.port}")

    def _answers(self) -> bool:
        with suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
        return False


class TaskFlowProcess(ServerProcess):
    """A TaskFlow process (a server or the worker) on the given database, Redis and key prefixes,
    writing its output to a log file of its own; `name` tells processes apart in messages."""

    name = "taskflow"

    def __init__(self, *, database_url: str, redis_url: str, channel_prefix: str, **settings: str) -> None:
        super().__init__()
        self.env = {
            **os.environ,
            # TaskFlow's settings with the fast password hasher the in-process tests use: every
            # registration and sign-in on a server costs a PBKDF2 hash otherwise (over a second each).
            "DJANGO_SETTINGS_MODULE": "taskflow.tests.server_settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CHANNEL_LAYER_PREFIX": channel_prefix,
            "CACHE_KEY_PREFIX": channel_prefix,
            "TASKFLOW_AUTH_RATE": "100000/min",
            "DJANGO_DEBUG": "false",
            # Uploaded files outside the repository; processes sharing a prefix share the folder.
            "MEDIA_ROOT": str(
                Path(os.environ.get("TMPDIR", "/tmp")) / f"taskflow-media-{channel_prefix or 'embedded'}"
            ),
            **settings,
        }
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"taskflow-{self.name}-{self.port}.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _spawn(self, command: list[str]) -> None:
        """Start `command` in the repository with this process's environment, output to its log."""
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def _exited(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log()}")


class TaskFlowServer(TaskFlowProcess):
    """TaskFlow served by `python -m taskflow.serve` with Daphne or uvicorn (and `workers`
    background workers, which the embedded default runs inside the server process)."""

    def __init__(self, *, server: str, workers: int = 0, **shared: str) -> None:
        self.name = self.server = server
        self.workers = workers
        super().__init__(**shared)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"

    def start(self) -> None:
        command = [sys.executable, "-m", "taskflow.serve", "--server", self.server, "--port", str(self.port)]
        self._spawn([*command, "--workers", str(self.workers)])
        wait_until(self._ready, timeout=START_TIMEOUT_SECONDS, what=f"{self.server} on port {self.port}")

    def kill(self) -> None:
        """A crash: SIGKILL the server processes `taskflow.serve` started for this object, then
        that process itself, so nothing gets to finish a request or close a socket. start() serves
        on the same port again."""
        pid = self.process.pid
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            os.kill(int(child), signal.SIGKILL)
        self.process.kill()
        self.process.wait()
        self.process = None

    def _ready(self) -> bool:
        self._exited()
        with suppress(OSError), urllib.request.urlopen(f"{self.http}/healthz", timeout=1) as response:
            return response.status == 200
        return False


class EmbeddedTaskFlow(TaskFlowServer):
    """TaskFlow as `make run` serves it: the embedded default (a SQLite file of its own, no Redis,
    so the in-memory channel layer), migrated and seeded with the demo data, one Daphne process
    with the worker inside, in development mode."""

    def __init__(self, directory: Path) -> None:
        super().__init__(
            server="daphne",
            workers=1,
            database_url=f"sqlite:///{directory / 'db.sqlite3'}",
            redis_url="",
            channel_prefix="",
            MEDIA_ROOT=str(directory / "media"),
        )
        # As a shell that runs `make run` has them: the development defaults, no test settings but
        # the password hasher (the demo users' passwords are hashed by seed_demo and at each sign-in).
        for name in ("DJANGO_DEBUG", "TASKFLOW_AUTH_RATE", "CHANNEL_LAYER_PREFIX", "CACHE_KEY_PREFIX"):
            self.env.pop(name)
        self.prepared = False

    def start(self) -> None:
        if not self.prepared:
            demo_database_prepare(self.env)
            self.prepared = True
        super().start()


class TopologyServer(TaskFlowServer):
    """TaskFlow in its production topology as `bench/serve PORT` runs it: nginx on a free port in
    front of HTTP-only processes and WebSocket-only processes of `ws_server` (WS_SERVER). Ready once
    the port answers, which bench/serve opens only when every process is up."""

    def __init__(self, *, ws_server: str, **shared: str) -> None:
        super().__init__(server=f"topology-{ws_server}", **shared)
        self.env.update(WS_SERVER=ws_server, WS_PROCS="1", HTTP_PROCS="1")

    def start(self) -> None:
        self._spawn([str(ROOT / "bench" / "serve"), str(self.port)])
        wait_until(self._ready, timeout=START_TIMEOUT_SECONDS * 2, what=f"bench/serve on port {self.port}")

    def processes(self) -> list[int]:
        """The pids of every process bench/serve runs now, itself and all below it."""
        return [self.process.pid, *descendants(self.process.pid)]


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (its children, theirs, ...), as /proc lists them now."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
    return found


def process_running(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie waiting to be reaped."""
    with suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


@contextmanager
def started(servers: list[ServerProcess]):
    """Start every one of `servers` (waiting for each to answer), and stop them all at the end,
    also when one of them fails to start."""
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def manage(env: dict, *command: str, timeout: float = 120) -> None:
    """Run `manage.py COMMAND` in a process of its own with the environment `env`; raises if it
    fails (CalledProcessError, with its output)."""
    subprocess.run(
        [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True, timeout=timeout
    )


# The bytes of a SQLite file `manage.py migrate` made in this test process, copied for every later
# one: a migrate run is a Python start-up and every migration (seconds on a busy machine), paid
# once per test process instead of once per test module. The migrations cannot change meanwhile.
_migrated_sqlite: bytes | None = None


def sqlite_migrate(path: Path) -> None:
    """Make `path` a migrated SQLite file: a copy of the one migrated before in this process, or
    migrated by `manage.py migrate` (and kept for the next ones when it left no journal behind)."""
    global _migrated_sqlite
    if _migrated_sqlite is not None and not path.exists():
        path.write_bytes(_migrated_sqlite)
        return
    manage({**os.environ, "DATABASE_URL": f"sqlite:///{path}", "REDIS_URL": ""}, "migrate", "--no-input", "-v", "0")
    journals = [path.with_name(path.name + suffix) for suffix in ("-wal", "-journal")]
    if _migrated_sqlite is None and not any(journal.exists() for journal in journals):
        _migrated_sqlite = path.read_bytes()


def migrated_sqlite_url(directory: Path) -> str:
    """The URL of a new SQLite file in `directory`, migrated: the embedded default's database, for
    servers a test starts on it."""
    sqlite_migrate(directory / "db.sqlite3")
    return f"sqlite:///{directory / 'db.sqlite3'}"


def demo_database_prepare(env: dict) -> None:
    """Migrate the database `env` names and load the demo data into it, as `make run` does."""
    url = env.get("DATABASE_URL", "")
    if url.startswith("sqlite:///"):
        sqlite_migrate(Path(url.removeprefix("sqlite:///")))
    else:
        manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "seed_demo")


class WorkerProcess(TaskFlowProcess):
    """`manage.py worker` in a process of its own, polling every 0.2 s; ready once it says so."""

    name = "worker"

    def start(self) -> None:
        self._spawn([sys.executable, "manage.py", "worker", "--no-reload", "--interval", "0.2", "--no-startup-delay"])
        wait_until(self._ready, timeout=START_TIMEOUT_SECONDS, what="the worker")

    def _ready(self) -> bool:
        self._exited()
        return "Starting worker" in self.log()


def api(server: TaskFlowServer, method: str, path: str, body: dict | None = None, token: str | None = None):
    """One JSON request to a server; returns (status, body)."""
    request = urllib.request.Request(
        server.http + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = response.read()
            return response.status, json.loads(payload) if payload else None
    except urllib.error.HTTPError as error:
        payload = error.read()
        return error.code, json.loads(payload) if payload else None


# --- Raw HTTP, for tests that decide exactly what is sent and when --------------------------------


def raw_connect(server: TaskFlowServer, *, timeout: float = 5) -> socket.socket:
    """A plain TCP connection to `server`; an answer that does not come within `timeout` is as
    good as none."""
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    """An HTTP/1.1 request line and headers (with `Host`), up to the blank line."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response: status, headers (lower-case names) and body (by Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the response body"
        body += chunk
    return int(status_line.split()[1]), headers, body
